import { Type } from 'typebox';

/** Shared TypeBox pieces. Response schemas are whitelists: a field not listed never leaves. */
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
/** Text a person typed (a name, a title, a comment): at least one visible character, never only spaces. */
export const NonBlank = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

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

export const ClientParams = Type.Object({ clientId: Uuid }, { additionalProperties: false });

export const Ok = Type.Object({ ok: Type.Literal(true) }, { additionalProperties: false });

/** Dates leave the server as ISO strings; `null` stays `null`. */
export const iso = (date: Date | null) => (date ? date.toISOString() : null);
/** A `date` column (no time of day) as YYYY-MM-DD. */
export const isoDate = (date: Date | null) => (date ? date.toISOString().slice(0, 10) : null);
