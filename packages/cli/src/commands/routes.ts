import { checkRouteTable } from '@breezycorp/api/route-scope';
import type { Command } from 'commander';
import { type ApiRoute, apiBaseUrl, fetchApiRoutes, parseRouteRef, type RouteRef, routesForPath } from '../api-routes.ts';
import { emit, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { formatFirmTime } from '../firm-time.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { defineOperatorAction } from '../operator-action.ts';
import { formatTable } from '../table.ts';

const withApiOption = (command: Command) =>
  command.option('--api <url>', 'the running API (default: $SPADE_API_URL, else http://127.0.0.1:3000)');

/**
 * Finds the route a kill switch should name. With the API reachable the route must exist
 * (a concrete URL is resolved to its pattern); without it, the operator's pattern is taken
 * as typed, with a warning — an outage of the API is no reason to refuse containment.
 */
async function resolveRoute(
  io: Io,
  ref: RouteRef,
  api: string | undefined,
): Promise<{ ref: RouteRef; route: ApiRoute | null; warning: string | null }> {
  let routes: ApiRoute[];
  try {
    routes = await fetchApiRoutes(apiBaseUrl(io, api));
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.apiDown) {
      const concrete = ref.path.split('/').some((segment) => /^[0-9a-f]{8}-[0-9a-f-]{27}$|^\d+$/i.test(segment));
      const hint = concrete ? `; ${ref.path} looks like a concrete URL, but a kill switch names a route pattern (…/:clientId/…)` : '';
      return { ref, route: null, warning: `could not check that the route exists: ${error.message}${hint}` };
    }
    throw error;
  }
  const matches = routesForPath(routes, ref.path).filter((route) => route.method === ref.method);
  if (matches.length === 0) {
    const others = routesForPath(routes, ref.path).map((r) => `${r.method} ${r.path}`);
    throw new CliError(
      `The running API has no route ${ref.method} ${ref.path}${others.length ? ` (that path serves: ${others.join(', ')})` : ''}; see \`spade routes list\``,
      EXIT.notFound,
    );
  }
  if (matches.length > 1) {
    throw new CliError(
      `${ref.method} ${ref.path} matches several routes: ${matches.map((r) => r.path).join(', ')}; name the pattern`,
      EXIT.usage,
    );
  }
  const route = matches[0]!;
  const warning =
    route.scope === 'client-scoped'
      ? null
      : `${route.method} ${route.path} is ${String(route.scope)}: the kill switch refuses client-scoped requests only, so its callers will not notice`;
  return { ref: { method: route.method, path: route.path }, route, warning };
}

interface SwitchOptions {
  reason?: string;
  api?: string;
}

/** Containment B: the kill switch. Client-scoped requests to the route get 503 on every instance. */
const takeRouteOffline = defineOperatorAction({
  name: 'routes offline',
  description: 'kill switch: client-scoped requests to the route get 503 on every API instance, until `routes online`',
  examples: [
    'pnpm spade routes offline "GET /api/clients/:clientId/cycles/:cycleId" --reason "tenant leak, patch in progress" --incident 6f1c2d3e-… --yes',
  ],
  configure: (command) =>
    withApiOption(
      command
        .argument('<route>', '"<METHOD> <path>", e.g. "GET /api/clients/:clientId/cycles/:cycleId"')
        .requiredOption('--reason <text>', 'why, shown to operators and in #spade-ops'),
    ),
  eventType: 'route.offline',
  kind: 'containment.route_offline',
  check: ([routeText]: [string], options: SwitchOptions) => {
    if (!(options.reason ?? '').trim()) throw new CliError('--reason must say why', EXIT.usage);
    parseRouteRef(routeText);
  },
  async load({ io, db, args: [routeText], options }) {
    const typed = parseRouteRef(routeText);
    const { ref, route, warning } = await resolveRoute(io, typed, options.api);
    if (warning) io.err(`warning: ${warning}`);
    if (ref.path !== typed.path) io.err(`note: ${typed.path} is served by the pattern ${ref.path}; switching that off`);
    const active = await db.prisma.routeKillSwitch.findFirst({ where: { method: ref.method, routePattern: ref.path, liftedAt: null } });
    const label = `${ref.method} ${ref.path}`;
    return {
      ref,
      label,
      reason: (options.reason ?? '').trim(),
      base: { route: label, scope: route?.scope ?? null, verified: route !== null, wouldChange: active ? 0 : 1 },
    };
  },
  containment: {
    summary: (t) => (t.base.wouldChange > 0 ? `take ${t.label} offline for client-scoped requests (1 kill switch)` : null),
    dryRun: (t) => ({
      json: { ...t.base, dryRun: true, changed: 0, slack: null },
      human: () =>
        `dry run: would take ${t.base.wouldChange} route(s) offline (${t.label})${t.base.wouldChange === 0 ? ' — already offline' : ''}; nothing changed`,
    }),
  },
  // The partial unique index (one active switch per route) makes a re-run a no-op.
  run: (
    tx,
    t,
    { incident, operator },
  ) => tx.$executeRaw`INSERT INTO route_kill_switches (method, route_pattern, reason, incident_id, created_by)
    VALUES (${t.ref.method}, ${t.ref.path}, ${t.reason}, ${incident?.id ?? null}::uuid, ${operator()})
    ON CONFLICT (method, route_pattern) WHERE lifted_at IS NULL DO NOTHING`,
  record: (t, changed) => ({
    message:
      changed > 0 ? `Took ${t.label} offline for client-scoped requests: ${t.reason}` : `${t.label} was already offline; nothing changed`,
    entityType: 'route',
    entityId: t.label,
    data: { method: t.ref.method, routePattern: t.ref.path, reason: t.reason, changed, verified: t.base.verified },
  }),
  announce: (t, changed, { incident, operator }) =>
    changed === 0
      ? null
      : `:construction: #spade-ops — degradation: \`${t.label}\` is offline for client-scoped requests (503)` +
        `${incident ? ` during incident ${incident.id}` : ''}. Reason: ${t.reason}. By ${operator()}.`,
  print: ({ target: t, receipt: changed, slack }) => ({
    json: { ...t.base, dryRun: false, changed, slack: slack?.status ?? null, slackError: slack?.error },
    human: () =>
      changed > 0
        ? `${t.label} is offline: client-scoped requests get 503 on every API instance (changed ${changed}); slack: ${slack?.status ?? null}`
        : `${t.label} was already offline; changed 0`,
  }),
});

/** Lifts the kill switch (lifted_at); announced in #spade-ops. */
const bringRouteOnline = defineOperatorAction({
  name: 'routes online',
  description: 'lift the kill switch on a route (sets lifted_at); announced in #spade-ops',
  examples: ['pnpm spade routes online "GET /api/clients/:clientId/cycles/:cycleId" --incident 6f1c2d3e-… --yes'],
  configure: (command) => withApiOption(command.argument('<route>', '"<METHOD> <path>" exactly as taken offline')),
  eventType: 'route.online',
  kind: 'containment.route_online',
  check: ([routeText]: [string], _options: SwitchOptions) => void parseRouteRef(routeText),
  async load({ db, args: [routeText] }) {
    const ref = parseRouteRef(routeText);
    const active = await db.prisma.routeKillSwitch.findFirst({ where: { method: ref.method, routePattern: ref.path, liftedAt: null } });
    return { ref, label: `${ref.method} ${ref.path}`, wouldChange: active ? 1 : 0 };
  },
  containment: {
    summary: (t) => (t.wouldChange > 0 ? `bring ${t.label} back online (lift 1 kill switch)` : null),
    dryRun: (t) => ({
      json: { route: t.label, wouldChange: t.wouldChange, dryRun: true, changed: 0, slack: null },
      human: () => `dry run: would bring ${t.wouldChange} route(s) back online (${t.label}); nothing changed`,
    }),
  },
  run: (tx, t, { operator }) => tx.$executeRaw`UPDATE route_kill_switches
    SET lifted_at = NOW(), lifted_by = ${operator()}
    WHERE method = ${t.ref.method} AND route_pattern = ${t.ref.path} AND lifted_at IS NULL`,
  record: (t, changed) => ({
    message: changed > 0 ? `Brought ${t.label} back online` : `${t.label} was not offline; nothing changed`,
    entityType: 'route',
    entityId: t.label,
    data: { method: t.ref.method, routePattern: t.ref.path, changed },
  }),
  announce: (t, changed, { operator }) =>
    changed === 0 ? null : `:white_check_mark: #spade-ops — \`${t.label}\` is back online. By ${operator()}.`,
  print: ({ target: t, receipt: changed, slack }) => ({
    json: { route: t.label, wouldChange: t.wouldChange, dryRun: false, changed, slack: slack?.status ?? null, slackError: slack?.error },
    human: () =>
      changed > 0
        ? `${t.label} is back online (changed ${changed}); slack: ${slack?.status ?? null}`
        : `${t.label} was not offline; changed 0`,
  }),
});

export function registerRouteCommands(program: Command, io: Io) {
  const routes = withExamples(
    program.command('routes').description('the live route table and the kill switch (runbook: check the route; containment B)'),
    'pnpm spade routes check',
    'pnpm spade routes offline "GET /api/clients/:clientId/cycles/:cycleId" --reason "…" --dry-run',
  );

  withExamples(
    withApiOption(
      withJson(routes.command('list').description('every route of the running API: method, path and scope (from its /openapi.json)')),
    ),
    'SPADE_API_URL=http://127.0.0.1:3000 pnpm spade routes list',
  ).action(async (options: { json?: boolean; api?: string }) => {
    const table = await fetchApiRoutes(apiBaseUrl(io, options.api));
    emit(io, options.json, table, () =>
      formatTable(
        ['METHOD', 'PATH', 'SCOPE'],
        table.map((r) => [r.method, r.path, r.scope === undefined ? '(none)' : String(r.scope)]),
      ),
    );
  });

  withExamples(
    withApiOption(
      withJson(
        routes
          .command('check')
          .description(
            'route coverage of the running API (same rules as route-coverage.test.ts): every route has a known scope; client-scoped ones carry :clientId. Exit 1 on any problem',
          ),
      ),
    ),
    'pnpm spade routes check',
  ).action(async (options: { json?: boolean; api?: string }) => {
    const table = await fetchApiRoutes(apiBaseUrl(io, options.api));
    const problems = checkRouteTable(table.map((r) => ({ method: r.method, url: r.path, scope: r.scope })));
    emit(io, options.json, { ok: problems.length === 0, routes: table.length, problems }, () =>
      problems.length === 0 ? `ok: ${table.length} routes, each with a valid scope` : problems.map((p) => p.message),
    );
    if (problems.length > 0) throw new CliError(`${problems.length} route problem(s) in ${table.length} routes`, EXIT.failure);
  });

  withExamples(
    withApiOption(
      withJson(
        routes
          .command('scope')
          .description('the scope of the route(s) serving a path — a pattern or a concrete URL from the evidence')
          .argument('<path>', 'e.g. /api/clients/:clientId/cycles/:cycleId or /api/clients/0000…/cycles/1234…'),
      ),
    ),
    'pnpm spade routes scope /api/clients/00000000-0000-4000-8000-00000000a001/cycles',
  ).action(async (path: string, options: { json?: boolean; api?: string }) => {
    if (!path.startsWith('/')) throw new CliError(`"${path}" is not a path (it starts with /)`, EXIT.usage);
    const matches = routesForPath(await fetchApiRoutes(apiBaseUrl(io, options.api)), path);
    if (matches.length === 0) throw new CliError(`No route of the running API serves ${path}`, EXIT.notFound);
    const problems = checkRouteTable(matches.map((r) => ({ method: r.method, url: r.path, scope: r.scope })));
    emit(io, options.json, { path, routes: matches, problems }, () => [
      ...matches.map((r) => `${r.method.padEnd(7)} ${r.path}  ${r.scope === undefined ? '(no scope!)' : String(r.scope)}`),
      ...problems.map((p) => `problem: ${p.message}`),
    ]);
  });

  takeRouteOffline.attach(routes, io);
  bringRouteOnline.attach(routes, io);

  withExamples(
    withJson(
      routes
        .command('switches')
        .description('kill switches in the database: active ones, or all with --all')
        .option('--all', 'include lifted switches'),
    ),
    'pnpm spade routes switches',
  ).action(async (options: { all?: boolean; json?: boolean }) => {
    const switches = await withUnsafeOwnerDatabase(io, (db) =>
      db.prisma.routeKillSwitch.findMany({ where: options.all ? {} : { liftedAt: null }, orderBy: { createdAt: 'desc' } }),
    );
    emit(io, options.json, switches, () =>
      switches.length === 0
        ? 'no active kill switches'
        : formatTable(
            ['ROUTE', 'SINCE (SGT)', 'BY', 'LIFTED', 'REASON'],
            switches.map((s) => [
              `${s.method} ${s.routePattern}`,
              formatFirmTime(s.createdAt),
              s.createdBy,
              s.liftedAt ? formatFirmTime(s.liftedAt) : '',
              s.reason,
            ]),
          ),
    );
  });
}
