import { isUuid } from '@breezycorp/db';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport, { type FormatsPlugin } from 'ajv-formats';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';

/**
 * The input boundary: what a client sends is made canonical or refused (400) before any
 * of it reaches a handler or PostgreSQL, so bad input is never a 5xx.
 *  - ids: a uuid-shaped path or query value is lower-cased the moment it is parsed, so the
 *    tenant checks, the response guard and the database all see one spelling;
 *  - strings PostgreSQL cannot store: NUL (22021) and lone UTF-16 surrogates (invalid
 *    UTF-8, and they break the jsonb audit insert), anywhere in params, query or body;
 *  - numbers: finite only (`1e400` parses as Infinity);
 *  - dates: `date-time` and `date` formats within years 0001–9999 (PostgreSQL has no
 *    year 0; JavaScript and PostgreSQL ranges differ beyond);
 *  - bodies are validated without type coercion (a number sent as a string is a 400);
 *    path and query strings are coerced, as they can only be strings;
 *  - HTTP/1.1 without Host, and URLs over the length limit, are refused.
 */

/** A URL longer than this is refused with 400 before routing. */
export const MAX_URL_LENGTH = 4_096;

// A CommonJS module: under Node's ESM resolution the default import is module.exports (whose
// `.default` is the plugin again); under a bundler's it is the plugin itself.
const addFormats = ((addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? addFormatsImport) as FormatsPlugin;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_DEPTH = 32;

/** Why `value` cannot be stored, with where; null when it can. */
export function unstorable(value: unknown, path = '', depth = 0): string | null {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return `${path || 'value'} contains a NUL character`;
    if (LONE_SURROGATE.test(value)) return `${path || 'value'} contains an invalid character (lone surrogate)`;
    return null;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path || 'value'} must be a finite number`;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = unstorable(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value)) {
    const keyProblem = unstorable(key, `${path}${path ? '.' : ''}(key)`, depth + 1);
    if (keyProblem) return keyProblem;
    const problem = unstorable(child, `${path}${path ? '.' : ''}${key}`, depth + 1);
    if (problem) return problem;
  }
  return null;
}

/** Lower-cases every uuid-shaped string in `values` (params, query, a JSON body), in place. */
export function canonicalIds(values: unknown, depth = 0): void {
  if (values === null || typeof values !== 'object' || depth > MAX_DEPTH) return;
  const record = values as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (typeof value === 'string') {
      if (isUuid(value)) record[key] = value.toLowerCase();
    } else canonicalIds(value, depth + 1);
  }
}

function inPostgresYears(text: string): boolean {
  const year = Number(text.slice(0, 4));
  return /^\d{4}-/.test(text) && year >= 1 && year <= 9999;
}

function buildAjv(coerceTypes: false | 'array') {
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false, strict: false });
  addFormats(ajv);
  const dateTime = ajv.formats['date-time'];
  const date = ajv.formats.date;
  const check = (format: unknown) => (text: string) =>
    inPostgresYears(text) &&
    (typeof format === 'function'
      ? (format as (s: string) => boolean)(text)
      : (format as { validate: (s: string) => boolean }).validate(text));
  ajv.addFormat('date-time', { type: 'string', validate: check(dateTime) });
  ajv.addFormat('date', { type: 'string', validate: check(date) });
  return ajv;
}

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** Schema validation first (it may coerce), then what no schema expresses. */
function withStorableCheck(validate: ValidateFunction, canonicalizeIds = false): Validator {
  const wrapped: Validator = (data: unknown) => {
    if (canonicalizeIds) canonicalIds(data);
    if (!validate(data)) {
      wrapped.errors = validate.errors ?? null;
      return false;
    }
    const problem = unstorable(data);
    if (problem) {
      wrapped.errors = [{ instancePath: '', schemaPath: '#', keyword: 'storable', params: {}, message: problem }];
      return false;
    }
    wrapped.errors = null;
    return true;
  };
  return wrapped;
}

function refuseUnstorable(request: FastifyRequest) {
  const problem = unstorable(request.params, 'params') ?? unstorable(request.query, 'query');
  if (problem) throw new AppError('bad_request', problem);
}

export default fp(
  async (app) => {
    const strict = buildAjv(false);
    const coercing = buildAjv('array');
    app.setValidatorCompiler(({ schema, httpPart }) =>
      httpPart === 'body'
        ? withStorableCheck(strict.compile(schema as object), true)
        : withStorableCheck(coercing.compile(schema as object)),
    );

    // onRequest: before auth, the tenant assertion and the unit of work see any of it.
    app.addHook('onRequest', async (request) => {
      if (request.url.length > MAX_URL_LENGTH) throw new AppError('bad_request', 'URL too long');
      if (request.raw.httpVersionMajor === 1 && request.raw.httpVersionMinor >= 1 && !request.headers.host) {
        throw new AppError('bad_request', 'Missing Host header');
      }
      canonicalIds(request.params);
      canonicalIds(request.query);
      refuseUnstorable(request);
    });
  },
  { name: 'input-boundary' },
);
