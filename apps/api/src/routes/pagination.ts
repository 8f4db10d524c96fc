import { isUuid } from '@breezycorp/db';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type TProperties, Type } from 'typebox';
import { AppError } from '../errors.ts';
import { unstorable } from '../plugins/input-boundary.ts';

/*
 * Keyset pagination, shared by every list route (docs/api.md, "Lists and pagination").
 *
 * A list answers at most `limit` rows (default 100, at most 500) in a stable order: the
 * route's own sort keys, then the row id as the tiebreaker. When more rows follow, the
 * response carries the next page in headers, GitHub-style — `Link: <…>; rel="next"` and
 * `X-Next-Cursor` — so every body keeps its shape (an object holding one array).
 *
 * The cursor is opaque to callers: base64url of `{ r, s, k, i }` — the list it belongs to
 * (the route's operationId), its scope (the path parameters: the client, the cycle…; on
 * firm-wide lists also the staff member who asked), the last row's sort keys and its id. A
 * cursor of another list, another client or another caller is refused with 400, as is any
 * cursor that does not decode. It carries sort keys only and grants nothing: the rows of a
 * page are still read through the request's own scope and RLS. There is no secret to sign it
 * with (one per instance would break cursors behind a load balancer), so it is validated, not
 * authenticated; forging one gains nothing a caller could not ask for with its own scope.
 *
 * On lists whose keys all compare exactly (text, day, and `instant`: a timestamptz(3) column,
 * which a JavaScript Date holds exactly) the next page is the rows after the cursor's copy of
 * its keys: a plain range, so a deep page is planned and read like the first. On lists with a
 * microsecond `time` key (the audit trail, whose sealed occurred_at must keep its value) it is
 * read with Prisma's cursor (`cursor: { id }`), which compares against the cursor row's own
 * values inside PostgreSQL — comparing against the cursor's millisecond copy could repeat or
 * skip rows. Only when that row no longer exists (deleted since) does such a page fall back to
 * the copy in the cursor, conservatively: rows sharing the cursor row's millisecond may be
 * repeated, none is skipped.
 */

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 500;
const MAX_CURSOR_LENGTH = 2_048;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The query parameters every list route takes (spread into its querystring schema). */
export const PageQueryFields = {
  // Optional for callers (the default applies); Ajv fills the default in before the handler runs.
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_PAGE_LIMIT,
      default: DEFAULT_PAGE_LIMIT,
      description: `Rows per page (default ${DEFAULT_PAGE_LIMIT}, at most ${MAX_PAGE_LIMIT})`,
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'Opaque: the X-Next-Cursor (or the Link rel="next") of the previous page of this same list',
    }),
  ),
};

/** A list route's querystring: its own filters plus `limit` and `cursor`. */
export function pageQuery<P extends TProperties>(properties: P) {
  return Type.Object({ ...properties, ...PageQueryFields }, { additionalProperties: false });
}

/** The response headers of a page, for the OpenAPI document. */
export const PAGE_HEADERS = {
  link: {
    type: 'string',
    description: 'RFC 8288: `<url>; rel="next"` (this list, same filters, the next cursor); absent on the last page',
  },
  'x-next-cursor': { type: 'string', description: 'The cursor of the next page; absent on the last page' },
};

/** A list response body (unchanged shape) documented with the page headers. */
export function pagedBody<P extends TProperties>(properties: P) {
  return Type.Object(properties, { additionalProperties: false, headers: PAGE_HEADERS });
}

/**
 * One sort key: `text`, `day` (a date column) and `instant` (a timestamptz(3) column) compare
 * exactly; `time` (timestamptz(6)) only to the millisecond in JavaScript. `nullable` keys sort
 * their NULLs last (ascending only).
 */
export type SortKey =
  | { field: string; kind: 'text' | 'time' | 'day'; nullable?: boolean }
  | {
      field: string;
      kind: 'instant';
      /**
       * `table.column` of the field: it must be stored to the millisecond (timestamptz(3)),
       * or the cursor's copy would not be exact — pagination.test checks it in the catalogue.
       */
      column: `${string}.${string}`;
      nullable?: boolean;
    };

export interface Pager {
  /** The list's operationId: a cursor names the list it came from. */
  list: string;
  keys: readonly SortKey[];
  direction: 'asc' | 'desc';
}

type CursorKey = string | null;
interface Cursor {
  r: string;
  s: string;
  k: CursorKey[];
  i: string;
}

const pagers = new Map<string, Pager>();

/** Every list's order, as declared (the tests check each `instant` column's precision). */
export function declaredPagers(): readonly Pager[] {
  return [...pagers.values()];
}

/** Declares a list's order: its sort keys, then `id` in the same direction. */
export function pager(list: string, direction: 'asc' | 'desc', keys: readonly SortKey[]): Pager {
  if (direction === 'desc' && keys.some((key) => key.nullable)) throw new Error(`${list}: nullable sort keys sort ascending only`);
  const defined: Pager = Object.freeze({ list, keys: Object.freeze([...keys]), direction });
  pagers.set(list, defined);
  return defined;
}

/**
 * What a cursor is bound to: the route's path parameters (a client-scoped list: its client,
 * and its cycle for a cycle's requests) and, on a list with no client in its path (firm-wide),
 * the staff member or contact who asked.
 */
export function cursorScope(params: Readonly<Record<string, string>>, actorId: string | null): string {
  const parts = Object.keys(params)
    .sort()
    .map((name) => `${name}=${params[name]}`);
  if (params.clientId === undefined) parts.unshift(`actor=${actorId ?? ''}`);
  return parts.join('&');
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/**
 * A syntactically valid cursor of `list` for `scope`, positioned before the first row (tests
 * and the cross-tenant probe mint cursors of other clients with it). Null for a list that
 * does not page.
 */
export function sampleCursor(list: string, scope: string): string | null {
  const defined = pagers.get(list);
  if (!defined) return null;
  const low = defined.direction === 'asc';
  const k = defined.keys.map((key): CursorKey => {
    if (key.kind === 'text') return '';
    if (key.kind === 'day') return low ? '0001-01-01' : '9999-12-31';
    return low ? '0001-01-01T00:00:00.000Z' : '9999-12-31T23:59:59.999Z';
  });
  return encodeCursor({ r: list, s: scope, k, i: low ? '00000000-0000-0000-0000-000000000000' : 'ffffffff-ffff-ffff-ffff-ffffffffffff' });
}

const invalidCursor = () => new AppError('bad_request', 'The cursor is not valid for this list');

/** Years PostgreSQL and JavaScript agree on (PostgreSQL has no year 0), as the input boundary allows. */
const inYears = (text: string) => /^\d{4}-/.test(text) && Number(text.slice(0, 4)) >= 1;

function validKey(key: SortKey, value: unknown): value is CursorKey {
  if (value === null) return key.nullable === true;
  // A forged key reaches PostgreSQL (on exact-keyed lists, or when the cursor row is gone): only what it can store.
  if (typeof value !== 'string' || value.length > 1_000 || unstorable(value) !== null) return false;
  if (key.kind === 'text') return true;
  if (key.kind === 'day') return DAY.test(value) && inYears(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));
  return inYears(value) && !Number.isNaN(Date.parse(value));
}

function decodeCursor(text: string, defined: Pager, scope: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidCursor();
  const { r, s, k, i } = parsed as Record<string, unknown>;
  if (r !== defined.list || s !== scope) throw invalidCursor();
  // The one uuid check, and canonical (lower-case) as the server wrote it.
  if (!isUuid(i) || i !== i.toLowerCase()) throw invalidCursor();
  if (!Array.isArray(k) || k.length !== defined.keys.length) throw invalidCursor();
  if (!defined.keys.every((key, index) => validKey(key, k[index]))) throw invalidCursor();
  return { r, s, k: k as CursorKey[], i };
}

type Order = 'asc' | 'desc';
type OrderBy = Record<string, Order | { sort: Order; nulls: 'last' }>;

/** What a list's query spreads in: its extra `where`, the order, the page size (+1) and Prisma's cursor. */
export interface PageArgs {
  /** AND it with the list's own filter. */
  where: object;
  // biome-ignore lint/suspicious/noExplicitAny: one order for every model's typed orderBy input
  orderBy: any[];
  take: number;
  cursor?: { id: string };
}

function keyValue(key: SortKey, value: CursorKey): Date | string | null {
  if (value === null) return null;
  if (key.kind === 'time' || key.kind === 'instant') return new Date(value);
  if (key.kind === 'day') return new Date(`${value}T00:00:00Z`);
  return value;
}

/**
 * A timestamp known to the millisecond only: the bound that keeps every row from the start of
 * that millisecond on (ascending) or before its end (descending) — a row may come twice, none is lost.
 */
function fromMillisecond(at: Date, asc: boolean): { gte: Date } | { lt: Date } {
  return asc ? { gte: at } : { lt: new Date(at.getTime() + 1) };
}

/**
 * The rows after the cursor's copy of its keys: the next page of a list whose keys compare
 * exactly, and the fallback of one with a time key when the cursor row is gone. Conservative
 * on `time` keys (known to the millisecond only): from the start of that millisecond on, so a
 * row may come twice but none is lost.
 */
function afterKeys(defined: Pager, cursor: Cursor): object {
  const asc = defined.direction === 'asc';
  const equal: object[] = [];
  const branches: object[] = [];
  for (const [index, key] of defined.keys.entries()) {
    const value = keyValue(key, cursor.k[index] as CursorKey);
    if (key.kind === 'time') {
      branches.push({ AND: [...equal, { [key.field]: fromMillisecond(value as Date, asc) }] });
      return { OR: branches };
    }
    if (value === null) {
      // NULLs sort last: nothing but another NULL (then the later keys) follows.
      equal.push({ [key.field]: null });
      continue;
    }
    const later: object[] = [{ [key.field]: asc ? { gt: value } : { lt: value } }];
    if (key.nullable) later.push({ [key.field]: null });
    branches.push({ AND: [...equal, { OR: later }] });
    equal.push({ [key.field]: value });
  }
  branches.push({ AND: [...equal, { id: asc ? { gt: cursor.i } : { lt: cursor.i } }] });
  return { OR: branches };
}

/**
 * A bound on the first sort key that every row after the cursor satisfies — redundant with
 * Prisma's cursor, but a plain range PostgreSQL can start an index scan at (Prisma's cursor
 * condition is an OR it cannot), so a deep page reads from its place in the index, not from
 * the list's start. Safe on `time` keys known to the millisecond only: it is widened to that
 * whole millisecond. None for a nullable first key (NULLs follow every value).
 */
function rangeStart(defined: Pager, cursor: Cursor): object {
  const [key] = defined.keys;
  if (!key || key.nullable) return {};
  const value = keyValue(key, cursor.k[0] as CursorKey);
  if (value === null) return {};
  const asc = defined.direction === 'asc';
  if (key.kind === 'time') return { [key.field]: fromMillisecond(value as Date, asc) };
  return { [key.field]: asc ? { gte: value } : { lte: value } };
}

function cursorKeys(defined: Pager, row: Record<string, unknown>): CursorKey[] {
  return defined.keys.map((key) => {
    const value = row[key.field];
    if (value === null || value === undefined) return null;
    if (value instanceof Date) return key.kind === 'day' ? value.toISOString().slice(0, 10) : value.toISOString();
    return String(value);
  });
}

function nextLink(request: FastifyRequest, cursor: string, limit: number): string {
  const url = new URL(request.url, 'http://spade.invalid');
  url.searchParams.set('cursor', cursor);
  url.searchParams.set('limit', String(limit));
  return `<${url.pathname}${url.search}>; rel="next"`;
}

function actorIdOf(request: FastifyRequest): string | null {
  const actor = request.actor;
  if (actor.kind === 'staff') return actor.staffUserId;
  if (actor.kind === 'contact') return actor.contactId;
  return null;
}

/**
 * Reads one page of a list: `read` runs the list's findMany with the page's arguments (ANDing
 * `page.where` into its own filter); the page's rows come back, and the next page's headers
 * are set on `reply` when more rows follow. The request's query must carry PageQueryFields.
 */
export async function readPage<Row extends { id: string }>(
  request: FastifyRequest,
  reply: FastifyReply,
  defined: Pager,
  read: (page: PageArgs) => Promise<Row[]>,
): Promise<Row[]> {
  const query = request.query as { limit?: number; cursor?: string };
  const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
  const scope = cursorScope((request.params ?? {}) as Record<string, string>, actorIdOf(request));
  const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor, defined, scope);
  const order = defined.direction;
  const orderBy: OrderBy[] = [
    ...defined.keys.map((key) => ({ [key.field]: key.nullable ? { sort: order, nulls: 'last' as const } : order })),
    { id: order },
  ];
  const base: PageArgs = { where: {}, orderBy, take: limit + 1 };
  let rows: Row[];
  if (cursor === null) {
    rows = await read(base);
  } else if (defined.keys.every((key) => key.kind !== 'time')) {
    // Every key compares exactly (text, day, instant): the rows after the cursor's own copy of its keys,
    // a plain keyset condition — no subqueries for PostgreSQL to plan, and a deleted cursor row
    // changes nothing.
    rows = await read({ ...base, where: { AND: [rangeStart(defined, cursor), afterKeys(defined, cursor)] } });
  } else {
    // The cursor row compares as itself in PostgreSQL; it is left out here rather than with
    // `skip: 1`, which would drop a real row when the cursor row no longer matches the filter.
    rows = await read({ ...base, where: { AND: [rangeStart(defined, cursor), { NOT: { id: cursor.i } }] }, cursor: { id: cursor.i } });
    // Empty: the list may have ended, or the cursor row may be gone (then Prisma finds nothing).
    if (rows.length === 0) rows = await read({ ...base, where: { AND: [afterKeys(defined, cursor), { NOT: { id: cursor.i } }] } });
  }
  if (rows.length <= limit) return rows;
  const page = rows.slice(0, limit);
  const last = page[page.length - 1] as Row;
  const next = encodeCursor({ r: defined.list, s: scope, k: cursorKeys(defined, last as Record<string, unknown>), i: last.id });
  reply.header('x-next-cursor', next);
  reply.header('link', nextLink(request, next, limit));
  return page;
}
