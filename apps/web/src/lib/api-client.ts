import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '../generated/api-schema.ts';

export type { paths };

/** The JSON body a route answers with on `status` (types come only from /openapi.json). */
export type ResponseOf<P extends keyof paths, M extends keyof paths[P], S extends number = 200> = paths[P][M] extends { responses: infer R }
  ? S extends keyof R
    ? R[S] extends { content: { 'application/json': infer B } }
      ? B
      : never
    : never
  : never;

/** The `{ error: { code, message, requestId } }` body every error carries. */
export interface ApiErrorBody {
  error: { code: string; message: string; requestId: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ApiClientOptions {
  /** The CSRF header value for this session (cookie-authenticated writes need it). */
  csrfToken: () => string | null;
  /** Any 401: the session is gone (expired, revoked, logged out elsewhere). */
  onUnauthenticated: (url: string) => void;
}

/** One typed client per app, generated from the API's schemas; same origin, cookies sent. */
export function createApiClient(options: ApiClientOptions) {
  const client = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
  const middleware: Middleware = {
    onRequest({ request }) {
      const token = options.csrfToken();
      if (!SAFE.has(request.method) && token) request.headers.set('x-csrf-token', token);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) options.onUnauthenticated(new URL(response.url).pathname);
      return response;
    },
  };
  client.use(middleware);
  return client;
}

export type ApiClient = ReturnType<typeof createApiClient>;

/** Unwraps an openapi-fetch result: the data, or an ApiError with the server's code and message. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    const body = result.error as Partial<ApiErrorBody> | undefined;
    throw new ApiError(result.response.status, body?.error?.code ?? 'unknown', body?.error?.message ?? `HTTP ${result.response.status}`);
  }
  return result.data;
}

/** A page of a list as openapi-fetch returns it: the body, and the response whose headers name the next page. */
type PageResult<B> = { data?: B; error?: unknown; response: Response };

/** The API's largest page; lists the UI shows whole are read this many rows at a time. */
export const MAX_PAGE_LIMIT = 500;
/** A bound on what one list may pull into the browser (20 pages of 500). */
const MAX_PAGES = 20;

/**
 * Every row of a paged list (pickers and lists the UI shows whole): reads pages of 500 and
 * follows each response's `X-Next-Cursor` until the last page (the same origin, so the
 * header is readable). Stops after MAX_PAGES pages rather than pull an unbounded set.
 */
export async function allPages<B, T>(
  read: (query: { limit: number; cursor?: string }) => Promise<PageResult<B>>,
  rows: (body: B) => T[],
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result: PageResult<B> = await read(cursor === null ? { limit: MAX_PAGE_LIMIT } : { limit: MAX_PAGE_LIMIT, cursor });
    all.push(...rows(unwrap(result)));
    cursor = result.response.headers.get('x-next-cursor');
    if (cursor === null) break;
  }
  return all;
}
