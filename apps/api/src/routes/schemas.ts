import type { FastifyReply } from 'fastify';
import { type TObject, Type } from 'typebox';

/** Shared TypeBox pieces. Response schemas are whitelists: a field not listed never leaves. */
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
/** Text a person typed (a name, a title, a comment): at least one visible character, never only spaces. */
export const NonBlank = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
/** A `date` column (no time of day): YYYY-MM-DD. */
export const DateOnly = Type.String({ format: 'date' });
export const NullableString = Type.Union([Type.String(), Type.Null()]);
export const NullableInt = Type.Union([Type.Integer(), Type.Null()]);

export const ErrorBody = Type.Object(
  {
    error: Type.Object({ code: Type.String(), message: Type.String(), requestId: Type.String() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

/** The error statuses every authenticated route can answer with. */
export const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
} as const;

/** Path parameters, each defined once; a client-scoped URL always names its client. */
export const ClientParams = Type.Object({ clientId: Uuid }, { additionalProperties: false });
export const CycleParams = Type.Object({ clientId: Uuid, cycleId: Uuid }, { additionalProperties: false });
export const RequestParams = Type.Object({ clientId: Uuid, requestId: Uuid }, { additionalProperties: false });
export const RequestItemParams = Type.Object({ clientId: Uuid, requestId: Uuid, itemId: Uuid }, { additionalProperties: false });
export const FileParams = Type.Object({ clientId: Uuid, fileId: Uuid }, { additionalProperties: false });

/**
 * The values of the database's CHECK constraints (packages/db/migrations), as schemas: a
 * response field that is one of these is whitelisted to exactly these values.
 */
export const CycleKind = Type.Union([
  Type.Literal('bookkeeping'),
  Type.Literal('accounting'),
  Type.Literal('tax'),
  Type.Literal('corporate_secretarial'),
  Type.Literal('payroll'),
  Type.Literal('other'),
]);
export const CycleStatus = Type.Union([Type.Literal('open'), Type.Literal('in_progress'), Type.Literal('closed')]);
export const RequestStatus = Type.Union([Type.Literal('open'), Type.Literal('completed'), Type.Literal('cancelled')]);
export const ItemStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('submitted'),
  Type.Literal('accepted'),
  Type.Literal('rejected'),
]);
export const MessageKind = Type.Union([Type.Literal('magic_link'), Type.Literal('reminder'), Type.Literal('staff_digest')]);
export const MessageStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('sending'),
  Type.Literal('sent'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export const ActorType = Type.Union([
  Type.Literal('staff'),
  Type.Literal('contact'),
  Type.Literal('anonymous'),
  Type.Literal('system'),
  Type.Literal('operator'),
]);
export const Frequency = Type.Union([Type.Literal('monthly'), Type.Literal('quarterly'), Type.Literal('yearly')]);
export const ClientStatus = Type.Union([Type.Literal('active'), Type.Literal('archived')]);
export const StaffRole = Type.Union([Type.Literal('admin'), Type.Literal('staff')]);

/**
 * A text column under one of those CHECK constraints, typed as its union. The database is
 * the proof (Prisma types these columns as string); the response schema still whitelists.
 */
export const checked = <T extends string>(value: string) => value as T;

export const Ok = Type.Object({ ok: Type.Literal(true) }, { additionalProperties: false });

/** The one date serialiser: dates leave the server as ISO strings; `null` stays `null`. */
export function iso(date: Date): string;
export function iso(date: Date | null): string | null;
export function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}
/** A `date` column (no time of day) as YYYY-MM-DD. */
export function isoDate(date: Date): string;
export function isoDate(date: Date | null): string | null;
export function isoDate(date: Date | null): string | null {
  return date ? date.toISOString().slice(0, 10) : null;
}
/** A `date` body field (YYYY-MM-DD) as the column's value: midnight UTC. */
export const dateColumn = (day: string) => new Date(`${day}T00:00:00Z`);

/** A response that must not be cached anywhere (a link, a session, a secret). */
export const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

/**
 * The Prisma `select` of a view whose every field is a column of the same name: derived from
 * the view, so the column list is never restated (a view that reshapes its row — a nested
 * object, a renamed field — keeps its own list).
 */
export function columnsOf<V extends TObject>(view: V): { readonly [K in keyof V['properties']]: true } {
  return Object.fromEntries(Object.keys(view.properties).map((key) => [key, true])) as { readonly [K in keyof V['properties']]: true };
}
