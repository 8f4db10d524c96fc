import { randomUUID } from 'node:crypto';
import { DEMO, hashToken, newToken } from '@breezycorp/db';
import { seedDemo } from '@breezycorp/db/unsafe';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorShapeProblem, foreignTenantIds } from './support/robustness.ts';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/*
 * Issue 8: a property-based fuzz of every operation of the LIVE OpenAPI document, as each
 * kind of actor, with valid and hostile path parameters, query strings and bodies. For every
 * answer: no 5xx, a non-2xx body exactly `{ error: { code, message, requestId } }` with
 * requestId === x-request-id, and no id of a tenant the actor may not see (unless the actor
 * sent that very id). Findings are collected over the whole run and reported together.
 *
 * SPADE_FUZZ_RUNS: cases per (operation × actor), default 10. SPADE_FUZZ_SEED: the seed.
 * SPADE_FUZZ_LOG=1: the app's error log, with the cause of each 5xx.
 */

const RUNS = Number(process.env.SPADE_FUZZ_RUNS ?? 10);
const SEED = Number(process.env.SPADE_FUZZ_SEED ?? 20_261_202);

interface JsonSchema {
  type?: string | string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
}
interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: JsonSchema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  consumes?: string[];
  'x-route-scope'?: string;
}
interface Op {
  method: string;
  path: string;
  operation: Operation;
}

type ActorName = 'anonymous' | 'admin' | 'assigned staff' | 'unassigned staff' | 'contact';
interface Actor {
  name: ActorName;
  headers: Record<string, string>;
  /** Ids the actor must never receive (null: may see every tenant). */
  forbidden: Set<string> | null;
}

interface Finding {
  kind: '5xx' | 'error-shape' | 'leak';
  op: string;
  actor: ActorName;
  status: number;
  request: string;
  detail: string;
}

const ACME = DEMO.clients.acme;
const UNASSIGNED_PASSWORD = 'fuzz-unassigned-password';

let t: TestApp;
let ops: Op[];
let ids: { own: Record<string, string>; victim: Record<string, string> };
let aliceRequestId: string;
const actors = new Map<ActorName, Actor>();
let unassignedEmail: string;
const findings: Finding[] = [];
let cases = 0;
let heals = 0;

/** A URL-encoding that also encodes lone surrogates, as their WTF-8 bytes (encodeURIComponent throws on them). */
function encodePathSegment(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0) as number;
    if (code >= 0xd800 && code <= 0xdfff)
      out += `%ED%${(0xa0 | ((code >> 6) & 0x1f)).toString(16).toUpperCase()}%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}`;
    else out += encodeURIComponent(char);
  }
  return out;
}

/** A JSON number or literal that must go out verbatim (1e400 would become null through JSON.stringify). */
class Raw {
  constructor(readonly text: string) {}
}
function toJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const LONG = 'x'.repeat(5_000);
const UUID_IN_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const HOSTILE_STRINGS = [
  '',
  ' ',
  '   ',
  '\t\n',
  '\u00a0\u3000',
  'a\u0000b',
  '\u0000',
  '\uD800',
  'x\uDC00y',
  LONG,
  '%ZZ',
  '../../etc/passwd',
  '"\'<>',
];
const HOSTILE_DATES = [
  '0000-01-01T00:00:00Z',
  '99999-01-01T00:00:00Z',
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '0000-01-01',
  '9999-12-31',
  '99999-01-01',
  '2026-02-30',
  '2026-13-45T99:99:99Z',
  '1969-12-31T23:59:59.999999999Z',
];
const HOSTILE_NUMBERS = ['1e400', '-1e400', '1e308', '-1', '0', '-0', '1.5', '9007199254740993', 'NaN', 'Infinity', '0x10', '1e2'];

function idArbitrary(param: string): fc.Arbitrary<string> {
  const own = ids.own[param];
  const victim = ids.victim[param];
  const options: fc.Arbitrary<string>[] = [fc.uuid().map((u) => u), fc.constantFrom(...HOSTILE_STRINGS)];
  if (own) options.push(fc.constant(own), fc.constant(own.toUpperCase()), fc.constant(`${own}\u0000`), fc.constant(` ${own}`));
  if (victim) options.push(fc.constant(victim), fc.constant(victim.toUpperCase()));
  options.push(
    fc.constantFrom('not-a-uuid', '00000000-0000-0000-0000-000000000000', '{00000000-0000-4000-8000-00000000a001}', 'x'.repeat(300)),
  );
  return fc.oneof(...options);
}

function stringArbitrary(schema: JsonSchema, key: string): fc.Arbitrary<string> {
  switch (schema.format) {
    case 'uuid':
      return idArbitrary(key === '' ? 'clientId' : key);
    case 'email':
      return fc.tuple(fc.nat(), fc.constantFrom('fuzz.example', 'acme.example')).map(([n, d]) => `fuzz-${n}-${cases}@${d}`);
    case 'date':
      return fc
        .date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10));
    case 'date-time':
      return fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
    default:
      break;
  }
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 60, 60);
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern, 'u');
    const candidates = ['201912345Z', '123456789', 'ABCDEFGHJ', '+65 6123 4567', 'file.uploaded', 'cycle.read,request.read', 'abc'].filter(
      (c) => pattern.test(c) && c.length >= min && c.length <= (schema.maxLength ?? Number.MAX_SAFE_INTEGER),
    );
    if (candidates.length > 0) return fc.constantFrom(...candidates);
  }
  return fc.string({ minLength: Math.max(min, 1), maxLength: Math.max(max, Math.max(min, 1)) }).filter((s) => s.trim().length > 0);
}

/** A value valid against `schema` (ids of the own or the victim tenant, by field name). */
function valid(schema: JsonSchema | undefined, key: string): fc.Arbitrary<unknown> {
  if (!schema) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const options = schema.anyOf ?? schema.oneOf;
  if (options && options.length > 0) return fc.oneof(...options.map((option) => valid(option, key)));
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type = types.find((t) => t !== 'null') ?? types[0];
  switch (type) {
    case 'object': {
      const required = new Set(schema.required ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        shape[name] = required.has(name) ? valid(property, name) : fc.option(valid(property, name), { nil: undefined });
      }
      return fc.record(shape);
    }
    case 'array':
      return fc.array(valid(schema.items, key), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'string':
      return stringArbitrary(schema, key);
    case 'null':
      return fc.constant(null);
    default:
      return fc.constant(null);
  }
}

/** What replaces one field of a valid body. */
const hostileValue: fc.Arbitrary<(original: unknown) => unknown> = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS).map((s) => () => s),
  fc.constantFrom(...HOSTILE_DATES).map((s) => () => s),
  fc.constantFrom(...HOSTILE_NUMBERS.filter((n) => !/[a-zA-Z]/.test(n) || /e/.test(n))).map((n) => () => new Raw(n)),
  fc.constant((original: unknown) => (typeof original === 'string' ? `${original}\u0000` : 'a\u0000')),
  fc.constant((original: unknown) => (typeof original === 'string' ? `${original}\uD800` : '\uD800')),
  fc.constant((original: unknown) => (typeof original === 'number' ? String(original) : '5')),
  fc.constant((original: unknown) => (typeof original === 'boolean' ? String(original) : original)),
  fc.constantFrom(null, true, false, 0, [], {}, ['a'], { nested: { deep: 1 } }).map((v) => () => v),
);

type Mutation = { at: number; value: (original: unknown) => unknown } | { extra: string };

function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((v, i) => paths(v, [...prefix, i]))];
  if (value !== null && typeof value === 'object') {
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => (v === undefined ? [] : paths(v, [...prefix, k])))];
  }
  return [prefix];
}

function mutate(body: unknown, mutation: Mutation): unknown {
  if ('extra' in mutation) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
    return { ...body, [mutation.extra]: 'extra' };
  }
  const all = paths(body).filter((p) => p.length > 0);
  if (all.length === 0) return mutation.value(body);
  const target = all[mutation.at % all.length] as (string | number)[];
  const copy = structuredClone(body) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const step of target.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  const last = target[target.length - 1] as string | number;
  node[last] = mutation.value(node[last]);
  return copy;
}

interface Payload {
  body?: string | Buffer;
  contentType?: string;
  label: string;
}

function jsonBodyArbitrary(schema: JsonSchema): fc.Arbitrary<Payload> {
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ at: fc.nat(), value: hostileValue }) },
    { weight: 1, arbitrary: fc.constantFrom('extra', 'constructor', 'clientId', 'id').map((extra) => ({ extra })) },
  );
  const structured = fc
    .tuple(valid(schema, ''), fc.option(mutation, { nil: undefined }), fc.option(mutation, { nil: undefined }))
    .map(([body, m1, m2]) => {
      let value = body;
      if (m1) value = mutate(value, m1);
      if (m2) value = mutate(value, m2);
      const text = toJson(value);
      return { body: text, contentType: 'application/json', label: text.slice(0, 300) };
    });
  const raw = fc.constantFrom<Payload>(
    { body: '', contentType: 'application/json', label: 'empty json' },
    { body: '{', contentType: 'application/json', label: 'truncated json' },
    { body: 'null', contentType: 'application/json', label: 'null' },
    { body: '[]', contentType: 'application/json', label: '[]' },
    { body: '"x"', contentType: 'application/json', label: 'string body' },
    { body: '{"__proto__":{"polluted":true}}', contentType: 'application/json', label: '__proto__' },
    { body: '{"constructor":{"prototype":{"polluted":true}}}', contentType: 'application/json', label: 'constructor.prototype' },
    { body: 'name=x', contentType: 'application/x-www-form-urlencoded', label: 'form body' },
    { body: 'hello', contentType: 'text/plain', label: 'text body' },
    { body: '{"a":1}', contentType: 'application/json; charset=utf-16', label: 'utf-16 charset' },
    { body: Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), contentType: 'application/json', label: 'invalid utf-8 json' },
  );
  return fc.oneof({ weight: 6, arbitrary: structured }, { weight: 1, arbitrary: raw });
}

/** Valid and hostile multipart bodies for the upload routes. */
function multipartArbitrary(): fc.Arbitrary<Payload> {
  const b = `----fuzz${randomUUID().replace(/-/g, '')}`;
  const part = (name: string, filename: string, type: string, content: string) =>
    `--${b}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n${content}\r\n`;
  const ct = `multipart/form-data; boundary=${b}`;
  return fc.constantFrom<Payload>(
    { body: `${part('file', 'ok.txt', 'text/plain', 'fuzz upload')}--${b}--\r\n`, contentType: ct, label: 'valid one file' },
    {
      body: `${part('file', 'ok.txt', 'text/plain', 'fuzz upload')}--${b}--\r\n`,
      contentType: 'multipart/form-data',
      label: 'no boundary',
    },
    {
      body: `${part('file', 'ok.txt', 'text/plain', 'fuzz upload')}--${b}--\r\n`,
      contentType: 'multipart/form-data; boundary=wrong-boundary',
      label: 'wrong boundary',
    },
    {
      body: `--${b}\r\nContent-Disposition: form-data; name="file"; filename="u.txt"\r\nContent-Type: text/plain\r\n\r\nunterminated`,
      contentType: ct,
      label: 'unterminated part',
    },
    {
      body: `--${b}\r\nContent-Disposition: form-data; name="file"; filename="u.txt"\r\n`,
      contentType: ct,
      label: 'truncated part headers',
    },
    {
      body: `${part('file', 'one.txt', 'text/plain', 'one')}${part('file', 'two.txt', 'text/plain', 'two')}--${b}--\r\n`,
      contentType: ct,
      label: 'two files',
    },
    { body: `${part('file', 'empty.txt', 'text/plain', '')}--${b}--\r\n`, contentType: ct, label: '0-byte file' },
    { body: `${part('file', 'x.exe', 'application/x-msdownload', 'MZ')}--${b}--\r\n`, contentType: ct, label: 'refused type' },
    { body: `${part('file', 'nul\u0000name.txt', 'text/plain', 'x')}--${b}--\r\n`, contentType: ct, label: 'NUL in filename' },
    { body: `${part('file', '\uD800.txt', 'text/plain', 'x')}--${b}--\r\n`, contentType: ct, label: 'lone surrogate in filename' },
    {
      body: `--${b}\r\nContent-Disposition: form-data; name="note"\r\n\r\njust a field\r\n--${b}--\r\n`,
      contentType: ct,
      label: 'no file part',
    },
    { body: `--${b}--\r\n`, contentType: ct, label: 'no parts' },
    { body: '', contentType: ct, label: 'empty body' },
    { body: '{"file":"x"}', contentType: 'application/json', label: 'json instead of multipart' },
  );
}

function queryArbitrary(parameters: Parameter[]): fc.Arbitrary<string> {
  const query = parameters.filter((p) => p.in === 'query');
  const perParam = query.map((p) => {
    const hostile = fc.constantFrom(...HOSTILE_NUMBERS, ...HOSTILE_DATES, ...HOSTILE_STRINGS.filter((s) => s !== LONG), 'a'.repeat(3000));
    const value = fc.oneof({ weight: 2, arbitrary: valid(p.schema, p.name).map((v) => String(v)) }, { weight: 3, arbitrary: hostile });
    const entry = fc.oneof(
      { weight: 4, arbitrary: value.map((v) => [[p.name, v]]) },
      {
        weight: 1,
        arbitrary: fc.tuple(value, value).map(([a, c]) => [
          [p.name, a],
          [p.name, c],
        ]),
      },
    );
    return p.required ? entry : fc.option(entry, { nil: [] });
  });
  const extra = fc.option(fc.constantFrom([['unknown', '1']], [['__proto__', 'x']], [['limit[]', '1']]), { nil: [] });
  return fc.tuple(fc.tuple(...perParam), extra).map(([entries, more]) => {
    const all = [...(entries as string[][][]).flat(), ...(more as string[][])];
    if (all.length === 0) return '';
    return `?${all.map(([k, v]) => `${encodePathSegment(k as string)}=${encodePathSegment(v as string)}`).join('&')}`;
  });
}

function urlArbitrary(op: Op): fc.Arbitrary<string> {
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  const values = names.map((name) => {
    const schema = op.operation.parameters?.find((p) => p.in === 'path' && p.name === name)?.schema;
    if (schema?.format === 'uuid') return idArbitrary(name);
    return fc.oneof(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s !== '')),
      fc.constant(`spade_ml_${'A'.repeat(40)}`),
    );
  });
  return fc.tuple(fc.tuple(...values), queryArbitrary(op.operation.parameters ?? [])).map(([filled, query]) => {
    let i = 0;
    const path = op.path.replace(/\{(\w+)\}/g, () => encodePathSegment((filled as string[])[i++] ?? ''));
    return path + query;
  });
}

function payloadArbitrary(op: Op): fc.Arbitrary<Payload | undefined> {
  if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(op.method)) return fc.constant(undefined);
  const content = op.operation.requestBody?.content ?? {};
  if (content['multipart/form-data'] || op.operation.consumes?.includes('multipart/form-data') || op.path.endsWith('/files')) {
    return multipartArbitrary();
  }
  const schema = content['application/json']?.schema;
  if (schema) return jsonBodyArbitrary(schema);
  // A body-less operation: nothing, or something it must ignore or refuse cleanly.
  return fc.constantFrom<Payload | undefined>(
    undefined,
    { body: '{}', contentType: 'application/json', label: '{}' },
    { body: '{', contentType: 'application/json', label: 'truncated json' },
    { body: 'a\u0000b', contentType: 'text/plain', label: 'NUL text' },
  );
}

function requestText(method: string, url: string, payload: Payload | undefined): string {
  return `${method} ${url.length > 300 ? `${url.slice(0, 300)}…(${url.length})` : url}${payload ? ` [${payload.contentType}] ${payload.label}` : ''}`;
}

async function loginHeaders(email: string, password: string): Promise<Record<string, string>> {
  return (await login(t.app, { email, password })).headers;
}

/** A fresh portal session for Alice (Acme): the request re-opened and its link renewed through the owner connection. */
async function contactHeaders(): Promise<Record<string, string>> {
  const token = newToken('magicLink');
  const p = t.owner.prisma;
  await p.$executeRaw`UPDATE contacts SET deleted_at = NULL WHERE client_id = ${ACME}::uuid`;
  await p.$executeRaw`UPDATE cycle_requests SET token_hash = ${hashToken(token)}, link_exchanged_at = NULL, expires_at = NOW() + interval '1 day', status = 'open' WHERE id = ${aliceRequestId}::uuid`;
  const response = await t.app.inject({ method: 'POST', url: '/api/portal/exchange', payload: { token } });
  if (response.statusCode !== 200) throw new Error(`exchange failed: ${response.statusCode} ${response.body}`);
  return { authorization: `Bearer ${response.json<{ sessionToken: string }>().sessionToken}` };
}

/** After a successful write, undo what could change who an actor is (logout, revocation, unassignment, deletion). */
async function healActors(refresh: boolean): Promise<void> {
  heals += 1;
  const p = t.owner.prisma;
  await p.$executeRaw`UPDATE staff_users SET disabled_at = NULL`;
  await p.$executeRaw`INSERT INTO staff_client_assignments (client_id, staff_user_id) VALUES (${ACME}::uuid, ${DEMO.staff.staff.id}::uuid) ON CONFLICT DO NOTHING`;
  await p.$executeRaw`DELETE FROM staff_client_assignments a USING staff_users u WHERE a.staff_user_id = u.id AND lower(u.email) = ${unassignedEmail}`;
  const renew = async (name: ActorName, probe: string, mint: () => Promise<Record<string, string>>) => {
    const actor = actors.get(name) as Actor;
    const r = await t.app.inject({ method: 'GET', url: probe, headers: actor.headers });
    if (r.statusCode !== 200) actor.headers = await mint();
  };
  await renew('admin', '/api/auth/me', () => loginHeaders(DEMO.staff.admin.email, DEMO.staff.admin.password));
  await renew('assigned staff', '/api/auth/me', () => loginHeaders(DEMO.staff.staff.email, DEMO.staff.staff.password));
  await renew('unassigned staff', '/api/auth/me', () => loginHeaders(unassignedEmail, UNASSIGNED_PASSWORD));
  await renew('contact', `/api/portal/clients/${ACME}/request`, contactHeaders);
  // Only the admin can create rows of another tenant; the others' writes stay in Acme.
  if (refresh) await refreshForbidden();
}

async function refreshForbidden(): Promise<void> {
  // Acme's staff and contact must see nothing of any other client; the unassigned staff member nothing of anyone.
  const notAcme = await foreignTenantIds(t.owner, [ACME]);
  const everyone = await foreignTenantIds(t.owner, []);
  (actors.get('assigned staff') as Actor).forbidden = notAcme;
  (actors.get('contact') as Actor).forbidden = notAcme;
  (actors.get('unassigned staff') as Actor).forbidden = everyone;
  (actors.get('anonymous') as Actor).forbidden = everyone;
}

async function firstIdsOf(clientId: string): Promise<Record<string, string>> {
  const p = t.owner.prisma;
  const contact = await p.contact.findFirstOrThrow({ where: { clientId }, orderBy: { createdAt: 'asc' } });
  const cycle = await p.cycle.findFirstOrThrow({ where: { clientId } });
  const request = await p.cycleRequest.findFirstOrThrow({ where: { clientId } });
  const item = await p.requestItem.findFirstOrThrow({ where: { clientId }, orderBy: { position: 'asc' } });
  const file = await p.file.findFirstOrThrow({ where: { clientId } });
  return {
    clientId,
    contactId: contact.id,
    actorId: contact.id,
    cycleId: cycle.id,
    requestId: request.id,
    itemId: item.id,
    fileId: file.id,
  };
}

async function runCase(op: Op, actor: Actor, url: string, payload: Payload | undefined): Promise<void> {
  cases += 1;
  const headers: Record<string, string> = { ...actor.headers };
  if (payload?.contentType) headers['content-type'] = payload.contentType;
  const response = await t.app.inject({
    method: op.method as 'GET',
    url,
    headers,
    ...(payload?.body !== undefined && { payload: payload.body }),
  });
  const status = response.statusCode;
  const at = { op: `${op.method} ${op.path}`, actor: actor.name, status, request: requestText(op.method, url, payload) };
  if (status >= 500) findings.push({ ...at, kind: '5xx', detail: response.body.slice(0, 300) });
  const shape = errorShapeProblem(status, response.headers, response.body);
  if (shape) findings.push({ ...at, kind: 'error-shape', detail: shape });
  if (actor.forbidden) {
    const sent = `${decodeURIComponentSafe(url)} ${payload?.body?.toString() ?? ''}`.toLowerCase();
    const text = `${response.body} ${JSON.stringify(response.headers)}`.toLowerCase();
    const forbidden = actor.forbidden;
    const leaked = [...new Set(text.match(UUID_IN_TEXT) ?? [])].filter((id) => forbidden.has(id) && !sent.includes(id));
    if (leaked.length > 0) findings.push({ ...at, kind: 'leak', detail: `foreign ids in the answer: ${leaked.slice(0, 5).join(', ')}` });
  }
  if (status >= 200 && status < 300 && op.method !== 'GET') await healActors(actor.name === 'admin');
}

function decodeURIComponentSafe(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

describe('input fuzz over the live OpenAPI document (issue 8)', () => {
  beforeAll(async () => {
    // SPADE_FUZZ_LOG=1: the app's error log (with the causes of any 5xx) goes to stdout.
    t = await createTestApp({ seed: false, ...(process.env.SPADE_FUZZ_LOG && { logger: 'config' as const, env: { LOG_LEVEL: 'error' } }) });
    const seeded = await seedDemo(t.owner.prisma, { storageDir: t.config.storageDir });
    aliceRequestId = seeded.magicLinks.find((link) => link.contactEmail === 'alice@acme.example')?.requestId as string;

    const spec = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(spec.statusCode).toBe(200);
    const paths = spec.json<{ paths: Record<string, Record<string, Operation>> }>().paths;
    ops = Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, operation]) => operation['x-route-scope'] !== undefined)
        .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
    );

    ids = { own: await firstIdsOf(ACME), victim: await firstIdsOf(DEMO.clients.borneo) };
    ids.own.staffUserId = DEMO.staff.staff.id;
    ids.victim.staffUserId = DEMO.staff.admin.id;

    const admin = await loginHeaders(DEMO.staff.admin.email, DEMO.staff.admin.password);
    unassignedEmail = `fuzz-unassigned-${randomUUID().slice(0, 8)}@spade.test`;
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/staff-users',
      headers: admin,
      payload: { email: unassignedEmail, name: 'Unassigned Fuzz', role: 'staff', password: UNASSIGNED_PASSWORD },
    });
    expect(created.statusCode, created.body).toBe(201);
    actors.set('anonymous', { name: 'anonymous', headers: {}, forbidden: null });
    actors.set('admin', { name: 'admin', headers: admin, forbidden: null });
    actors.set('assigned staff', {
      name: 'assigned staff',
      headers: await loginHeaders(DEMO.staff.staff.email, DEMO.staff.staff.password),
      forbidden: null,
    });
    actors.set('unassigned staff', {
      name: 'unassigned staff',
      headers: await loginHeaders(unassignedEmail, UNASSIGNED_PASSWORD),
      forbidden: null,
    });
    actors.set('contact', { name: 'contact', headers: await contactHeaders(), forbidden: null });
    await refreshForbidden();
  });

  afterAll(async () => {
    await t?.close();
  });

  it(
    'every operation, as every actor, answers < 500, in the error shape with x-request-id, and without a foreign tenant id',
    async () => {
      expect(ops.length).toBeGreaterThan(20);
      // Every operation of the document carries its route scope (x-route-scope): none is skipped silently.
      // Every API operation: not the HEAD twins, not what the document hides (itself, the web app's pages).
      const routes = t.app.routeTable.filter((r) => r.method !== 'HEAD' && !r.hidden);
      expect(ops.length).toBe(routes.length);

      const started = Date.now();
      let index = 0;
      for (const op of ops) {
        for (const actor of actors.values()) {
          index += 1;
          await fc.assert(
            fc.asyncProperty(urlArbitrary(op), payloadArbitrary(op), async (url, payload) => {
              await runCase(op, actors.get(actor.name) as Actor, url, payload);
            }),
            { numRuns: RUNS, seed: SEED + index, endOnFailure: true },
          );
        }
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const distinct = new Map<string, Finding>();
      for (const f of findings) distinct.set(`${f.kind} ${f.op} ${f.status} ${f.detail.slice(0, 80)}`, f);
      const report = [...distinct.values()]
        .map((f) => `[${f.kind}] ${f.op} as ${f.actor} → ${f.status}: ${f.request}\n      ${f.detail}`)
        .join('\n');
      process.stdout.write(
        `input fuzz: seed ${SEED} (SPADE_FUZZ_SEED), ${RUNS} runs per operation×actor (SPADE_FUZZ_RUNS), ` +
          `${ops.length} operations × ${actors.size} actors = ${cases} cases in ${seconds} s; ` +
          `${heals} successful writes healed; ${findings.length} findings, ${distinct.size} distinct\n${report}\n`,
      );
      expect(report, `fuzz findings (seed ${SEED}, ${cases} cases)`).toBe('');
    },
    Math.max(600_000, RUNS * 60_000),
  );
});
