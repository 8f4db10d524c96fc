import { randomBytes } from 'node:crypto';
import type { App } from '../../app.ts';
import { openApiPath } from '../../plugins/openapi.ts';
import type { RouteTableEntry } from '../../plugins/scope-enforcer.ts';
import { cursorScope, sampleCursor } from '../../routes/pagination.ts';
import { multipartFile } from './http.ts';

/*
 * The automatic cross-tenant probe of DESIGN.md §4: it walks the LIVE route table of an
 * app (never a hand-written list, so a route is covered the day it is registered), fills
 * every path parameter with a real id of the victim tenant, and calls each client-scoped
 * route as every wrong actor. Anything but the expected refusal, any 5xx, and any victim
 * value in a response body or header is a finding. A parameter the probe cannot fill is a
 * finding too: a new route must never be skipped silently.
 *
 * A list route (one that takes a `cursor`) is probed again with cursors: a cursor minted for
 * the victim's client at the victim's URL and at the actor's own URL, and one minted for the
 * actor's own client at the victim's URL. A cursor of another client must be refused — at the
 * actor's own URL, where the actor may list its own rows, with exactly 400 — and no victim row
 * may come back. A list whose cursor the probe cannot mint is a finding as well.
 */

/** A value that must never reach a given actor, with a label for readable findings. */
export interface ForbiddenValue {
  label: string;
  value: string;
}

export interface ProbeActor {
  name: string;
  kind: 'staff' | 'contact' | 'anonymous';
  /**
   * The refusal this actor must get: 401 when it holds no valid credential (anonymous,
   * revoked, expired, rotated), 404 when it is a live actor of the wrong tenant (existence
   * is never disclosed, so never 403).
   */
  refusal: 401 | 404;
  /**
   * The client whose own data this actor may legitimately see, or null. A live actor with a
   * home other than the victim is also probed with its OWN :clientId and the victim's other
   * ids (the classic IDOR that assertClientTenant cannot see; layers 3, 4 and 6 must stop it).
   */
  homeClientId: string | null;
  /** Credential headers for ONE request: minted fresh each time, so a probed logout cannot end the actor. */
  headers(): Promise<Record<string, string>>;
  /** What this actor must never see in a body or a header. */
  forbidden: readonly ForbiddenValue[];
}

export interface ProbeFixture {
  victimClientId: string;
  /** Parameter name → the victim's real id of that kind; also used for uuid body and query fields. */
  ids: Readonly<Record<string, string>>;
  actors: readonly ProbeActor[];
}

/**
 * 'victim-url': every id is the victim's. 'own-url': :clientId is the actor's own client, every other id the victim's.
 * The cursor variants (list routes only) add a `cursor` minted for the victim's client or for the actor's own.
 */
export type ProbeVariant = 'victim-url' | 'own-url' | 'victim-url+victim-cursor' | 'victim-url+own-cursor' | 'own-url+victim-cursor';

export interface ProbeObservation {
  route: string;
  actor: string;
  variant: ProbeVariant;
  status: number;
}

export type FindingKind = 'unfillable-param' | 'server-error' | 'unexpected-status' | 'leak';

export interface Finding {
  route: string;
  kind: FindingKind;
  actor: string | null;
  variant: ProbeVariant | null;
  status: number | null;
  detail: string;
}

export interface ProbeOptions {
  /** Restrict the walk (the leaky-route self-test uses it so its all-layers-off app cannot damage the fixture). */
  only?: (route: RouteTableEntry) => boolean;
  /** Receives every response status, for the coverage table. */
  observe?: (observation: ProbeObservation) => void;
}

// A JSON schema as @fastify/swagger renders it into /openapi.json (only the parts used here).
interface JsonSchema {
  type?: string | string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
}

interface OpenApiOperation {
  operationId?: string;
  parameters?: { in: string; name: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

type OpenApiPaths = Record<string, Record<string, OpenApiOperation>>;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export const routeName = (route: Pick<RouteTableEntry, 'method' | 'url'>) => `${route.method} ${route.url}`;

/** The names of a Fastify URL pattern's parameters (`:name`, with or without a regex). */
export function paramNames(url: string): string[] {
  return [...url.matchAll(/:(\w+)/g)].map((match) => match[1] as string);
}

function fillUrl(url: string, values: Readonly<Record<string, string>>): string {
  // A parameter may carry a regex constraint, `:id(^\\d+)`: the whole token is replaced.
  return url.replace(/:(\w+)(\([^)]*\))?/g, (_token, name: string) => encodeURIComponent(values[name] as string));
}

/** The OpenAPI operation of a route; HEAD routes (absent from the document) share their GET's. */
function operationOf(paths: OpenApiPaths, route: RouteTableEntry): OpenApiOperation | undefined {
  const path = openApiPath(route.url);
  const method = route.method === 'HEAD' ? 'get' : route.method.toLowerCase();
  return paths[path]?.[method];
}

/**
 * A minimal value valid against `schema`. Ids come from the victim (by field name, else
 * the victim client's): a body must aim at the victim too. Free text never carries a
 * victim marker, so an echo of what the attacker sent can never pass for a leak.
 */
function sample(schema: JsonSchema | undefined, key: string, ids: Readonly<Record<string, string>>, fallbackId: string): unknown {
  if (!schema) return null;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  const option = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (option) return sample(option, key, ids, fallbackId);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      // Every property, optional ones included: more victim ids reach the handler, and
      // `minProperties` is met without reading it.
      const body: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) body[name] = sample(property, name, ids, fallbackId);
      return body;
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sample(schema.items, key, ids, fallbackId));
    case 'integer':
    case 'number':
      return Math.min(Math.max(1, schema.minimum ?? 1), schema.maximum ?? Number.MAX_SAFE_INTEGER);
    case 'boolean':
      return true;
    case 'string':
      return sampleString(schema, key, ids, fallbackId);
    default:
      return null;
  }
}

function sampleString(schema: JsonSchema, key: string, ids: Readonly<Record<string, string>>, fallbackId: string): string {
  switch (schema.format) {
    case 'uuid':
      return ids[key] ?? fallbackId;
    case 'email':
      return `probe-${randomBytes(6).toString('hex')}@probe.example`;
    case 'date':
      return '2026-01-31';
    case 'date-time':
      return new Date().toISOString();
    default:
      break;
  }
  const min = schema.minLength ?? 1;
  const max = schema.maxLength ?? 200;
  const fitLength = (text: string) => text.padEnd(min, 'x').slice(0, max);
  const base = fitLength(`probe ${randomBytes(4).toString('hex')}`);
  if (!schema.pattern) return base;
  const pattern = new RegExp(schema.pattern, 'u');
  const candidates = [base, '123456789', '1234567890', 'ABCDEFGHJ', 'probe', 'a'].map(fitLength);
  return candidates.find((candidate) => pattern.test(candidate)) ?? base;
}

/**
 * What a correct app answers. A dead credential: exactly 401. A live wrong actor: exactly
 * 404 — except on a route that names nothing but the actor's OWN client and admits its
 * kind (e.g. GET /api/portal/clients/:clientId/request for a contact of that client), where
 * it legitimately sees its own data: 2xx (or 404) then, still without any victim value.
 */
function expectedStatuses(
  route: RouteTableEntry,
  actor: ProbeActor,
  urlClientId: string,
  cursorClientId: string | null,
): (status: number) => boolean {
  const namesOnlyTheClient = paramNames(route.url).every((name) => name === 'clientId');
  const admitted = actor.kind !== 'anonymous' && route.actors.includes(actor.kind) && !route.adminOnly;
  const ownData = actor.refusal === 404 && actor.homeClientId === urlClientId && namesOnlyTheClient && admitted;
  // Its own list, paged with another client's cursor: the cursor is refused, exactly 400.
  if (ownData && cursorClientId !== null && cursorClientId !== urlClientId) return (status) => status === 400;
  if (ownData) return (status) => (status >= 200 && status < 300) || status === 404;
  return (status) => status === actor.refusal;
}

/** Whether a route is a paged list: its operation takes a `cursor` query parameter. */
export function isListOperation(operation: { parameters?: { in: string; name: string }[] } | undefined): boolean {
  return operation?.parameters?.some((parameter) => parameter.in === 'query' && parameter.name === 'cursor') ?? false;
}

/** The route's path parameters as the URL fills them, for the cursor's scope. */
function pathValues(url: string, values: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(paramNames(url).map((name) => [name, values[name] as string]));
}

function leaksIn(
  response: { rawPayload: Buffer; headers: Record<string, unknown> },
  forbidden: readonly ForbiddenValue[],
): ForbiddenValue[] {
  // Case-insensitive: emails are lower-cased on the way in, ids could be upper-cased on the way out.
  const haystacks = [response.rawPayload.toString('utf8'), JSON.stringify(response.headers)].map((text) => text.toLowerCase());
  return forbidden.filter((item) => haystacks.some((haystack) => haystack.includes(item.value.toLowerCase())));
}

export async function probe(app: App, fixture: ProbeFixture, options: ProbeOptions = {}): Promise<Finding[]> {
  const findings: Finding[] = [];
  const spec = await app.inject({ method: 'GET', url: '/openapi.json' });
  if (spec.statusCode !== 200) throw new Error(`probe: /openapi.json answered ${spec.statusCode}`);
  const paths = (spec.json() as { paths?: OpenApiPaths }).paths ?? {};

  const routes = app.routeTable.filter((route) => route.scope === 'client-scoped' && (options.only?.(route) ?? true));
  for (const route of routes) {
    const name = routeName(route);
    const unfillable = paramNames(route.url).filter((param) => param !== 'clientId' && fixture.ids[param] === undefined);
    if (unfillable.length > 0) {
      findings.push({
        route: name,
        kind: 'unfillable-param',
        actor: null,
        variant: null,
        status: null,
        detail: `the probe has no victim id for :${unfillable.join(', :')}; add it to the fixture's ids so this route is probed`,
      });
      continue;
    }
    const operation = operationOf(paths, route);
    const list = isListOperation(operation);
    // A cursor of this list for a client (the other path ids are the victim's), or null when the probe cannot mint one.
    const cursorFor = (clientId: string) =>
      sampleCursor(operation?.operationId ?? '', cursorScope(pathValues(route.url, { ...fixture.ids, clientId }), null));
    if (list && cursorFor(fixture.victimClientId) === null) {
      findings.push({
        route: name,
        kind: 'unfillable-param',
        actor: null,
        variant: null,
        status: null,
        detail: `the probe cannot mint a cursor for ${operation?.operationId ?? 'this operation'}; page it with routes/pagination.ts`,
      });
      continue;
    }

    for (const actor of fixture.actors) {
      const foreignHome = actor.refusal === 404 && actor.homeClientId !== null && actor.homeClientId !== fixture.victimClientId;
      const home = actor.homeClientId as string;
      const victimId = fixture.victimClientId;
      const variants: { variant: ProbeVariant; urlClientId: string; cursorClientId: string | null }[] = [
        { variant: 'victim-url', urlClientId: victimId, cursorClientId: null },
      ];
      if (foreignHome) variants.push({ variant: 'own-url', urlClientId: home, cursorClientId: null });
      if (list) {
        variants.push({ variant: 'victim-url+victim-cursor', urlClientId: victimId, cursorClientId: victimId });
        if (foreignHome) {
          variants.push({ variant: 'victim-url+own-cursor', urlClientId: victimId, cursorClientId: home });
          variants.push({ variant: 'own-url+victim-cursor', urlClientId: home, cursorClientId: victimId });
        }
      }
      for (const { variant, urlClientId, cursorClientId } of variants) {
        const values = { ...fixture.ids, clientId: urlClientId };
        const query = new URLSearchParams();
        if (cursorClientId !== null) query.set('cursor', cursorFor(cursorClientId) as string);
        for (const parameter of operation?.parameters ?? []) {
          if (parameter.in !== 'query') continue;
          const id = fixture.ids[parameter.name];
          if (id !== undefined) query.set(parameter.name, id);
          else if (parameter.schema?.format === 'uuid') query.set(parameter.name, fixture.victimClientId);
          else if (parameter.required)
            query.set(parameter.name, String(sample(parameter.schema, parameter.name, fixture.ids, urlClientId)));
        }
        const url = fillUrl(route.url, values) + (query.size > 0 ? `?${query}` : '');

        const headers: Record<string, string> = { ...(await actor.headers()) };
        let payload: Buffer | string | undefined;
        if (BODY_METHODS.has(route.method)) {
          const jsonSchema = operation?.requestBody?.content?.['application/json']?.schema;
          if (jsonSchema) {
            payload = JSON.stringify(sample(jsonSchema, '', fixture.ids, fixture.victimClientId));
            headers['content-type'] = 'application/json';
          } else {
            // No JSON body in the schema: an upload route (multipart is streamed, not schema'd) or a body-less one.
            // A one-file multipart body: upload routes stream it, every other route never reads it.
            const form = multipartFile('probe.txt', 'text/plain', 'cross-tenant probe upload');
            payload = form.payload;
            Object.assign(headers, form.headers);
          }
        }

        const response = await app.inject({
          method: route.method as 'GET',
          url,
          headers,
          ...(payload !== undefined && { payload }),
        });
        const status = response.statusCode;
        options.observe?.({ route: name, actor: actor.name, variant, status });
        const at = { route: name, actor: actor.name, variant, status };
        if (status >= 500) {
          findings.push({ ...at, kind: 'server-error', detail: `${url} answered ${status}: ${response.body.slice(0, 300)}` });
        } else if (!expectedStatuses(route, actor, urlClientId, cursorClientId)(status)) {
          const expected =
            cursorClientId !== null && cursorClientId !== urlClientId && urlClientId === actor.homeClientId ? 400 : actor.refusal;
          findings.push({ ...at, kind: 'unexpected-status', detail: `${url} answered ${status}, expected ${expected}` });
        }
        const leaked = leaksIn(response, actor.forbidden);
        if (leaked.length > 0) {
          findings.push({ ...at, kind: 'leak', detail: `${url} (${status}) carried: ${leaked.map((item) => item.label).join(', ')}` });
        }
      }
    }
  }
  return findings;
}

/** One line per finding, for assertion messages. */
export function describeFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => `[${f.kind}] ${f.route}${f.actor ? ` as ${f.actor}` : ''}${f.variant ? ` (${f.variant})` : ''}: ${f.detail}`)
    .join('\n');
}

/** Routes × actors × status, so a reader sees what the probe covered. Own-URL answers follow a slash. */
export function coverageTable(observations: readonly ProbeObservation[], actors: readonly ProbeActor[]): string {
  const routes = [...new Set(observations.map((o) => o.route))];
  const cell = (route: string, actor: string) => {
    const of = (variant: ProbeVariant) => observations.find((o) => o.route === route && o.actor === actor && o.variant === variant)?.status;
    const own = of('own-url');
    return `${of('victim-url') ?? '-'}${own === undefined ? '' : `/${own}`}`;
  };
  const header = ['route', ...actors.map((a) => a.name)];
  const rows = routes.map((route) => [route, ...actors.map((a) => cell(route, a.name))]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)].join('\n');
}
