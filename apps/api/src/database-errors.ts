/**
 * What a failure from the database layer means for the client. Errors arrive in several
 * wrappings — a raw `pg` error, @prisma/adapter-pg's DriverAdapterError (`cause.kind`,
 * `cause.originalCode`), Prisma's known-request errors (`code: 'P…'`, `meta`) and Node's
 * socket errors — so the facts are collected from the whole `cause`/`meta` chain.
 *
 * - `unavailable`: the database is away or saturated (server restarting, backend
 *   terminated, refused connection, pool acquisition timed out). The client may retry: 503.
 * - `bad_input`: PostgreSQL refused a value the client sent (SQLSTATE class 22, data
 *   exception: NUL in text, a date out of range, invalid text representation…). Input
 *   validation should catch these first; this is the net under it: 400, never 500.
 * - `missing_parent`: a foreign key points at nothing (23503): the parent is not found.
 */
export type DatabaseFailure = 'unavailable' | 'bad_input' | 'missing_parent';

const UNAVAILABLE_PRISMA_CODES = new Set([
  'P1001', // can't reach the database server
  'P1002', // reached it but timed out
  'P1008', // operations timed out
  'P1017', // server has closed the connection
  'P2024', // timed out fetching a connection from the pool
  'P2028', // transaction API error: could not start in time, or closed under it
]);

const UNAVAILABLE_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);
const BAD_INPUT_KINDS = new Set(['InvalidInputValue', 'ValueOutOfRange', 'LengthMismatch']);
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended unexpectedly',
  'terminating connection due to administrator command',
  'the database system is starting up',
  'the database system is shutting down',
  'Unable to start a transaction in the given time',
  'Transaction already closed',
];

interface Facts {
  codes: Set<string>;
  kinds: Set<string>;
  messages: string[];
}

function collect(value: unknown, facts: Facts, depth: number): void {
  if (depth > 5 || value === null || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  for (const key of ['code', 'originalCode', 'errno', 'sqlState']) {
    const code = record[key];
    if (typeof code === 'string') facts.codes.add(code);
  }
  if (typeof record.kind === 'string') facts.kinds.add(record.kind);
  for (const key of ['message', 'originalMessage', 'reason']) {
    const message = record[key];
    if (typeof message === 'string') facts.messages.push(message);
  }
  for (const key of ['cause', 'meta', 'driverAdapterError', 'error']) collect(record[key], facts, depth + 1);
}

/** null when the error is not a recognisable database failure of one of the three kinds. */
export function databaseFailure(error: unknown): DatabaseFailure | null {
  const facts: Facts = { codes: new Set(), kinds: new Set(), messages: [] };
  collect(error, facts, 0);
  const codes = [...facts.codes];
  // SQLSTATE classes: 08 connection exception, 57P0x operator intervention / shutdown,
  // 53 insufficient resources (too many connections).
  if (
    codes.some((c) => /^08[0-9A-Z]{3}$/.test(c) || /^57P0[1-4]$/.test(c) || /^53[0-9A-Z]{3}$/.test(c)) ||
    codes.some((c) => UNAVAILABLE_PRISMA_CODES.has(c) || UNAVAILABLE_ERRNO.has(c)) ||
    [...facts.kinds].some((k) => UNAVAILABLE_KINDS.has(k)) ||
    facts.messages.some((m) => UNAVAILABLE_MESSAGES.some((known) => m.includes(known)))
  ) {
    return 'unavailable';
  }
  if (codes.some((c) => /^22[0-9A-Z]{3}$/.test(c)) || [...facts.kinds].some((k) => BAD_INPUT_KINDS.has(k))) return 'bad_input';
  if (codes.includes('23503') || codes.includes('P2003') || facts.kinds.has('ForeignKeyConstraintViolation')) return 'missing_parent';
  return null;
}
