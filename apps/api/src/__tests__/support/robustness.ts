import net from 'node:net';
import type { UnsafeDatabase } from '@breezycorp/db/unsafe';

/*
 * Shared by the robustness tests (issue 8): the one error shape every non-2xx answer must
 * have, raw HTTP over a socket (for requests no HTTP client would send), and the ids of the
 * tenants an actor must never see.
 */

/**
 * Why a non-2xx answer is not `{ error: { code, message, requestId } }` with
 * `requestId === x-request-id`, or null when it is.
 */
export function errorShapeProblem(status: number, headers: Record<string, unknown>, body: string): string | null {
  if (status >= 200 && status < 300) return null;
  const headerId = headers['x-request-id'];
  if (typeof headerId !== 'string' || headerId.length === 0) return `${status} without an x-request-id header`;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return `${status} with a body that is not JSON: ${JSON.stringify(body.slice(0, 200))}`;
  }
  const top = json as { error?: Record<string, unknown> } | null;
  if (top === null || typeof top !== 'object' || Object.keys(top).join(',') !== 'error' || typeof top.error !== 'object') {
    return `${status} body is not exactly { error }: ${body.slice(0, 200)}`;
  }
  const error = top.error as Record<string, unknown>;
  const keys = Object.keys(error).sort().join(',');
  if (keys !== 'code,message,requestId') return `${status} error has keys ${keys}, not code,message,requestId: ${body.slice(0, 200)}`;
  if (typeof error.code !== 'string' || typeof error.message !== 'string' || typeof error.requestId !== 'string') {
    return `${status} error fields are not all strings: ${body.slice(0, 200)}`;
  }
  if (error.requestId !== headerId) return `${status} error.requestId ${error.requestId} differs from x-request-id ${headerId}`;
  return null;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server sent, for messages. */
  raw: string;
  /** True when the server closed the connection. */
  closed: boolean;
}

/** Parses the first HTTP/1.1 response in `raw` (content-length or close-delimited body). */
export function parseRawResponse(raw: string, closed: boolean): RawResponse | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(end + 4);
  const length = headers['content-length'];
  if (length !== undefined) {
    if (Buffer.byteLength(body) < Number(length) && !closed) return null;
    body = Buffer.from(body).subarray(0, Number(length)).toString();
  } else if (headers['transfer-encoding'] === 'chunked') {
    if (!body.includes('\r\n0\r\n') && !closed) return null;
    let out = '';
    let rest = body;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const size = Number.parseInt(rest.slice(0, nl), 16);
      if (!size) break;
      out += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    body = out;
  } else if (!closed) {
    return null;
  }
  return { status, headers, body, raw, closed };
}

/** Sends raw bytes to a listening server and reads one response (or the close), bounded in time. */
export function rawHttp(port: number, bytes: Buffer | string, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let raw = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      const parsed = parseRawResponse(raw, closed);
      if (!parsed) {
        if (closed) {
          done = true;
          clearTimeout(timer);
          socket.destroy();
          resolve({ status: 0, headers: {}, body: '', raw, closed: true });
        }
        return;
      }
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parsed);
    };
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      socket.destroy();
      reject(new Error(`no response within ${timeoutMs} ms; received: ${JSON.stringify(raw.slice(0, 300))}`));
    }, timeoutMs);
    socket.on('data', (chunk) => {
      raw += chunk.toString('latin1');
      finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(bytes);
  });
}

/** Every tables' `client_id` tenant table of the schema (audit_events included). */
async function tenantTables(owner: UnsafeDatabase): Promise<string[]> {
  const rows = await owner.prisma.$queryRawUnsafe<{ table_name: string }[]>(
    `SELECT table_name FROM information_schema.columns
     WHERE table_schema = 'public' AND column_name = 'client_id' AND table_name <> 'clients'
       AND EXISTS (SELECT 1 FROM information_schema.columns c2
                   WHERE c2.table_schema = 'public' AND c2.table_name = columns.table_name AND c2.column_name = 'id')`,
  );
  return rows.map((row) => row.table_name);
}

/**
 * Every id of every row that belongs to a client other than `visibleClientIds` (read through the
 * owner connection, which bypasses RLS): none may appear in an answer to an actor who sees only those.
 */
export async function foreignTenantIds(owner: UnsafeDatabase, visibleClientIds: readonly string[]): Promise<Set<string>> {
  const ids = new Set<string>();
  const visible = `ARRAY[${visibleClientIds.map((id) => `'${id}'`).join(',')}]::uuid[]`;
  const clients = await owner.prisma.$queryRawUnsafe<{ id: string }[]>(
    `SELECT id::text AS id FROM clients WHERE NOT (id = ANY (${visible}))`,
  );
  for (const row of clients) ids.add(row.id);
  for (const table of await tenantTables(owner)) {
    const rows = await owner.prisma.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id::text AS id FROM "${table}" WHERE client_id IS NOT NULL AND NOT (client_id = ANY (${visible}))`,
    );
    for (const row of rows) ids.add(row.id);
  }
  return ids;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
