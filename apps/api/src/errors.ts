/** One error type; its code decides the HTTP status. Messages of 5xx never reach clients. */
export const ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  unauthenticated: 401,
  csrf_failed: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  rate_limited: 429,
  headers_too_large: 431,
  internal: 500,
  route_offline: 503,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  override name = 'AppError';
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = ERROR_STATUS[code];
  }
}

/** The same answer for every unknown, foreign or forbidden thing: existence is not disclosed. */
/**
 * A unique violation (Prisma P2002). The one test for it: the errors plugin answers 409
 * without naming what collided (it could be another tenant's value); resources that can say
 * which field (a contact's email, a staff user's) translate it themselves.
 */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';
}

/**
 * For `.catch(...)`: a unique violation becomes the resource's own error (which names the
 * field, never the value); anything else is rethrown as it was.
 */
export const rethrowUniqueAs =
  (toError: () => AppError) =>
  (error: unknown): never => {
    throw isUniqueViolation(error) ? toError() : error;
  };

export const notFound = () => new AppError('not_found', 'Not found');
export const unauthenticated = () => new AppError('unauthenticated', 'Authentication required');

/** How long a client should wait before retrying a 503 (seconds), by code. */
export const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = { unavailable: 2, route_offline: 300 };
