import { checkRouteTable } from '@breezycorp/api/route-scope';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type CliFixture,
  createCliFixture,
  openIncident,
  type RecordingServer,
  startServer,
  startSlack,
  UNREACHABLE_URL,
} from './support.ts';

/** What a running API's GET /openapi.json looks like (DESIGN.md §5), trimmed to a few routes. */
const SOUND_SPEC = {
  openapi: '3.0.3',
  info: { title: 'Spade API', version: '0.1.0' },
  paths: {
    '/healthz': { get: { 'x-route-scope': 'public', responses: {} } },
    '/api/clients': { get: { 'x-route-scope': 'staff-only' }, post: { 'x-route-scope': 'staff-only' } },
    '/api/clients/{clientId}/cycles': {
      parameters: [{ name: 'clientId', in: 'path' }],
      get: { 'x-route-scope': 'client-scoped' },
      post: { 'x-route-scope': 'client-scoped' },
    },
    '/api/clients/{clientId}/cycles/{cycleId}': { get: { 'x-route-scope': 'client-scoped' } },
    '/api/clients/{clientId}/files/{fileId}/download': { get: { 'x-route-scope': 'client-scoped' } },
  },
};

const BROKEN_SPEC = {
  ...SOUND_SPEC,
  paths: {
    ...SOUND_SPEC.paths,
    '/api/leaky/cycles/{cycleId}': { get: { summary: 'forgot its scope' } },
    '/api/files/{fileId}': { get: { 'x-route-scope': 'client-scoped' } },
    '/api/odd': { get: { 'x-route-scope': 'tenant' } },
  },
};

let f: CliFixture;
let api: RecordingServer;
let brokenApi: RecordingServer;
let slack: RecordingServer;
let listener: pg.Client;
const notifications: string[] = [];

const serve = (spec: unknown) =>
  startServer((req, res) => {
    if (req.url === '/openapi.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(spec));
    } else {
      res.writeHead(404);
      res.end();
    }
  });

beforeAll(async () => {
  f = await createCliFixture('routes');
  api = await serve(SOUND_SPEC);
  brokenApi = await serve(BROKEN_SPEC);
  slack = await startSlack();
  listener = new pg.Client({ connectionString: f.db.ownerUrl });
  await listener.connect();
  listener.on('notification', (message) => notifications.push(`${message.channel}: ${message.payload}`));
  await listener.query('LISTEN spade_route_kill_switch');
});
afterAll(async () => {
  await listener?.end();
  await Promise.all([api?.close(), brokenApi?.close(), slack?.close()]);
  await f?.close();
});

async function waitFor(predicate: () => boolean, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

describe('spade routes list / check / scope (from the running API’s /openapi.json)', () => {
  it('lists every operation with its method, Fastify path and scope', async () => {
    const { code, io } = await f.run(['routes', 'list', '--json'], { SPADE_API_URL: api.url });
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(io.json()).toEqual([
      { method: 'GET', path: '/api/clients', scope: 'staff-only' },
      { method: 'POST', path: '/api/clients', scope: 'staff-only' },
      { method: 'GET', path: '/api/clients/:clientId/cycles', scope: 'client-scoped' },
      { method: 'POST', path: '/api/clients/:clientId/cycles', scope: 'client-scoped' },
      { method: 'GET', path: '/api/clients/:clientId/cycles/:cycleId', scope: 'client-scoped' },
      { method: 'GET', path: '/api/clients/:clientId/files/:fileId/download', scope: 'client-scoped' },
      { method: 'GET', path: '/healthz', scope: 'public' },
    ]);
    const table = await f.run(['routes', 'list', '--api', api.url]);
    expect(table.io.text()).toMatch(/GET\s+\/api\/clients\/:clientId\/cycles\/:cycleId\s+client-scoped/);
  });

  it('check passes a sound table', async () => {
    const { code, io } = await f.run(['routes', 'check'], { SPADE_API_URL: api.url });
    expect(code).toBe(0);
    expect(io.text()).toBe('ok: 7 routes, each with a valid scope');
  });

  it('check exits 1 and names a route without x-route-scope, a client-scoped route without :clientId and an unknown scope', async () => {
    const { code, io } = await f.run(['routes', 'check'], { SPADE_API_URL: brokenApi.url });
    expect(code).toBe(1);
    expect(io.stdout).toEqual([
      'GET /api/files/:fileId: client-scoped but its URL has no :clientId parameter',
      'GET /api/leaky/cycles/:cycleId: declares no route scope',
      'GET /api/odd: unknown route scope "tenant" (expected public, staff-only, client-scoped)',
    ]);
    expect(io.stderr.join('\n')).toMatch(/3 route problem\(s\) in 10 routes/);
  });

  it('scope resolves a concrete URL from the evidence to its route and scope', async () => {
    const { code, io } = await f.run(['routes', 'scope', '/api/clients/00000000-0000-4000-8000-00000000b001/cycles/1234?x=1', '--json'], {
      SPADE_API_URL: api.url,
    });
    expect(code).toBe(0);
    expect(io.json()).toMatchObject({
      routes: [{ method: 'GET', path: '/api/clients/:clientId/cycles/:cycleId', scope: 'client-scoped' }],
      problems: [],
    });
    const leaky = await f.run(['routes', 'scope', '/api/leaky/cycles/42'], { SPADE_API_URL: brokenApi.url });
    expect(leaky.io.text()).toContain('GET     /api/leaky/cycles/:cycleId  (no scope!)');
    expect((await f.run(['routes', 'scope', '/api/nothing/here'], { SPADE_API_URL: api.url })).code).toBe(3);
  });

  it('an API that cannot be reached exits 5 with its address', async () => {
    const { code, io } = await f.run(['routes', 'list'], { SPADE_API_URL: UNREACHABLE_URL });
    expect(code).toBe(5);
    expect(io.stderr.join('\n')).toContain(`Cannot reach the API at ${UNREACHABLE_URL}/openapi.json`);
  });
});

describe('the route rules as a pure function (shared with the API’s route-coverage test)', () => {
  it('accepts both path notations and flags each broken rule once', () => {
    expect(
      checkRouteTable([
        { method: 'GET', url: '/api/clients/:clientId/cycles', scope: 'client-scoped' },
        { method: 'GET', url: '/api/clients/{clientId}/cycles', scope: 'client-scoped' },
        { method: 'GET', url: '/healthz', scope: 'public' },
      ]),
    ).toEqual([]);
    expect(
      checkRouteTable([
        { method: 'get', url: '/a', scope: undefined },
        { method: 'GET', url: '/b', scope: '' },
        { method: 'GET', url: '/c/:clientIdX', scope: 'client-scoped' },
        { method: 'GET', url: '/d', scope: 'Staff-Only' },
      ]).map((p) => [p.url, p.problem]),
    ).toEqual([
      ['/a', 'missing_scope'],
      ['/b', 'missing_scope'],
      ['/c/:clientIdX', 'client_scoped_without_client_id'],
      ['/d', 'unknown_scope'],
    ]);
  });
});

describe('spade routes offline / online (the kill switch)', () => {
  const ROUTE = 'GET /api/clients/:clientId/cycles/:cycleId';
  let incidentId: string;

  beforeAll(async () => {
    incidentId = await openIncident(f);
  });
  beforeEach(async () => {
    await f.sql.query('DELETE FROM route_kill_switches');
    notifications.length = 0;
    slack.requests.length = 0;
  });

  const active = async () =>
    (await f.sql.query('SELECT method, route_pattern, reason, incident_id, created_by FROM route_kill_switches WHERE lifted_at IS NULL'))
      .rows;

  it('takes a route offline once, notifies every API instance, audits route.offline and announces it in #spade-ops', async () => {
    const env = { SPADE_API_URL: api.url, SLACK_WEBHOOK_URL: slack.url };
    const { code, io } = await f.run(
      ['routes', 'offline', ROUTE, '--reason', 'tenant leak', '--incident', incidentId, '--yes', '--json'],
      env,
    );
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(io.json()).toMatchObject({ changed: 1, verified: true, scope: 'client-scoped', slack: 'posted' });
    expect(await active()).toEqual([
      {
        method: 'GET',
        route_pattern: '/api/clients/:clientId/cycles/:cycleId',
        reason: 'tenant leak',
        incident_id: incidentId,
        created_by: 'oncall-test',
      },
    ]);
    await waitFor(() => notifications.length > 0);
    expect(notifications).toEqual(['spade_route_kill_switch: GET /api/clients/:clientId/cycles/:cycleId']);
    const text = (JSON.parse(slack.requests[0]!.body) as { text: string }).text;
    expect(text).toContain('#spade-ops');
    expect(text).toContain('GET /api/clients/:clientId/cycles/:cycleId');
    const audit = await f.sql.query(
      "SELECT actor_type, client_id, entity_id, event_data_json FROM audit_events WHERE event_type = 'route.offline'",
    );
    expect(audit.rows.at(-1)).toMatchObject({
      actor_type: 'operator',
      client_id: null,
      entity_id: ROUTE,
      event_data_json: { operator: 'oncall-test', incidentId, reason: 'tenant leak', changed: 1 },
    });
    const kinds = (
      await f.sql.query('SELECT kind FROM incident_timeline_entries WHERE incident_id = $1 ORDER BY occurred_at', [incidentId])
    ).rows.map((r) => r.kind);
    expect(kinds.slice(-2)).toEqual(['containment.route_offline', 'slack_posted']);

    // Idempotent: the second run changes 0, posts nothing.
    const again = await f.run(['routes', 'offline', ROUTE, '--reason', 'tenant leak', '--yes', '--json'], env);
    expect(again.io.json()).toMatchObject({ changed: 0 });
    expect(await active()).toHaveLength(1);
    expect(slack.requests).toHaveLength(1);
  });

  it('--dry-run and a missing --yes change nothing', async () => {
    const dry = await f.run(['routes', 'offline', ROUTE, '--reason', 'x', '--dry-run'], { SPADE_API_URL: api.url });
    expect(dry.code).toBe(0);
    expect(dry.io.text()).toContain('would take 1 route(s) offline');
    const refused = await f.run(['routes', 'offline', ROUTE, '--reason', 'x'], { SPADE_API_URL: api.url });
    expect(refused.code).toBe(2);
    expect(await active()).toEqual([]);
  });

  it('resolves a concrete URL to its pattern, and refuses a route the API does not have (exit 3)', async () => {
    const concrete = await f.run(
      ['routes', 'offline', 'GET /api/clients/00000000-0000-4000-8000-00000000b001/cycles/77', '--reason', 'x', '--yes'],
      {
        SPADE_API_URL: api.url,
      },
    );
    expect(concrete.code, concrete.io.stderr.join('\n')).toBe(0);
    expect((await active()).map((r) => r.route_pattern)).toEqual(['/api/clients/:clientId/cycles/:cycleId']);
    const unknown = await f.run(['routes', 'offline', 'DELETE /api/clients/:clientId/cycles/:cycleId', '--reason', 'x', '--yes'], {
      SPADE_API_URL: api.url,
    });
    expect(unknown.code).toBe(3);
    expect(unknown.io.stderr.join('\n')).toContain('that path serves: GET /api/clients/:clientId/cycles/:cycleId');
    expect((await f.run(['routes', 'offline', 'FETCH /x', '--reason', 'x', '--yes'])).code).toBe(2);
  });

  it('with the API unreachable, warns and still takes the route offline; an unreachable Slack is recorded and does not stop it', async () => {
    const { code, io } = await f.run(['routes', 'offline', ROUTE, '--reason', 'api down', '--incident', incidentId, '--yes'], {
      SPADE_API_URL: UNREACHABLE_URL,
      SLACK_WEBHOOK_URL: UNREACHABLE_URL,
    });
    expect(code).toBe(0);
    expect(io.stderr.join('\n')).toMatch(/could not check that the route exists/);
    expect(io.stderr.join('\n')).toMatch(/Slack post failed/);
    expect(await active()).toHaveLength(1);
    const last = (
      await f.sql.query('SELECT kind FROM incident_timeline_entries WHERE incident_id = $1 ORDER BY occurred_at DESC LIMIT 1', [incidentId])
    ).rows[0];
    expect(last.kind).toBe('slack_failed');
  });

  it('with the API unreachable, warns when the operator typed a concrete URL instead of a route pattern', async () => {
    const { code, io } = await f.run([
      'routes',
      'offline',
      'GET /api/clients/00000000-0000-4000-8000-00000000b001/cycles/42',
      '--reason',
      'x',
      '--dry-run',
    ]);
    expect(code).toBe(0);
    expect(io.stderr.join('\n')).toMatch(/looks like a concrete URL/);
  });

  it('online lifts the switch (lifted_at, lifted_by), notifies, audits route.online, and is idempotent', async () => {
    await f.run(['routes', 'offline', ROUTE, '--reason', 'x', '--yes'], { SPADE_API_URL: api.url });
    await waitFor(() => notifications.length > 0);
    notifications.length = 0;
    const { code, io } = await f.run(['routes', 'online', ROUTE, '--yes', '--json'], { SLACK_WEBHOOK_URL: slack.url });
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(io.json()).toMatchObject({ changed: 1, slack: 'posted' });
    expect(await active()).toEqual([]);
    const lifted = await f.sql.query('SELECT lifted_by, lifted_at IS NOT NULL AS lifted FROM route_kill_switches');
    expect(lifted.rows).toEqual([{ lifted_by: 'oncall-test', lifted: true }]);
    await waitFor(() => notifications.length > 0);
    expect(notifications).toEqual(['spade_route_kill_switch: GET /api/clients/:clientId/cycles/:cycleId']);
    expect((JSON.parse(slack.requests.at(-1)!.body) as { text: string }).text).toContain('back online');
    expect((await f.sql.query("SELECT count(*)::int AS n FROM audit_events WHERE event_type = 'route.online'")).rows[0].n).toBeGreaterThan(
      0,
    );
    const again = await f.run(['routes', 'online', ROUTE, '--yes', '--json']);
    expect(again.io.json()).toMatchObject({ changed: 0 });
    // And it can go offline again afterwards (the unique index is on active switches only).
    expect(
      (await f.run(['routes', 'offline', ROUTE, '--reason', 'again', '--yes', '--json'], { SPADE_API_URL: api.url })).io.json(),
    ).toMatchObject({ changed: 1 });
    const switches = await f.run(['routes', 'switches', '--all', '--json']);
    expect(switches.io.json<unknown[]>()).toHaveLength(2);
  });
});
