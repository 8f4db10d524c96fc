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
