import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALLOWED, scanSource, scanTree, unsafeImporters } from '../../scripts/tenant-bypass-scan.ts';

/** The AST scanner that replaces the runbook's step-4 grep (run by `pnpm lint` too). */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('tenant-bypass scanner', () => {
  it('finds no bypass in apps/api/src, and prints its allowed exceptions', async () => {
    const { files, findings } = await scanTree(SRC);
    console.log(
      `allowed exceptions:\n${Object.entries(ALLOWED)
        .map(([rule, list]) => `  ${rule}: ${list.join(', ')}`)
        .join('\n')}`,
    );
    expect(files).toBeGreaterThan(20);
    expect(findings).toEqual([]);
  });

  it('the exception list is exactly this (a new exception is a visible diff)', () => {
    expect(ALLOWED).toEqual({
      rawSql: ['services/token-lookups.ts', 'services/delivery/unsafe-claims.ts', 'services/detection-store.ts'],
      // SECURITY DEFINER lookups before any tenant is known, cross-tenant claims of due
      // work, detection's firm-wide reads, and the process entry (migrate + seed).
      basePrisma: ['services/token-lookups.ts', 'services/delivery/unsafe-claims.ts', 'services/detection-store.ts', 'server.ts'],
      // token-lookups: the per-request session lookups, one statement on a pooled connection (no ORM).
      rawConnection: ['services/token-lookups.ts', 'services/detection-store.ts', 'services/runtime-role.ts', 'server.ts'],
      unsafeEntry: [
        'server.ts',
        'worker.ts',
        'services/delivery/unsafe-claims.ts',
        'services/detection-store.ts',
        'services/first-admin.ts',
        'services/runtime-role.ts',
        'services/token-lookups.ts',
      ],
    });
  });

  it('flags an import of the unsafe entry outside its listed importers, and lists every importer in the repository', async () => {
    const source = "import { unscoped } from '@breezycorp/db/unsafe';";
    expect(scanSource('routes/files/index.ts', source).map((f) => f.rule)).toEqual(['unsafe-entry']);
    expect(scanSource('plugins/audit.ts', source).map((f) => f.rule)).toEqual(['unsafe-entry']);
    expect(scanSource('services/token-lookups.ts', source)).toEqual([]);
    const importers = await unsafeImporters();
    // The API's own importers are exactly the listed ones; the CLI's owner connection is one of the others.
    expect(importers.filter((f) => f.startsWith('apps/api/src/')).sort()).toEqual(
      (ALLOWED.unsafeEntry ?? []).map((f) => `apps/api/src/${f}`).sort(),
    );
    expect(importers).toContain('packages/cli/src/database.ts');
    expect(importers).toContain('bench/tenant-read.bench.ts');
  });

  it('flags raw SQL in a route', () => {
    const findings = scanSource('routes/leaky/index.ts', 'export const f = (db: any) => db.prisma.$queryRaw`SELECT * FROM files`;');
    expect(findings.map((f) => f.rule).sort()).toEqual(['base-prisma', 'raw-sql']);
  });

  it('flags the unscoped client and a raw connection outside their owners', () => {
    const source = 'export async function f(db: any) { await db.prisma.file.findUnique({ where: { id: 1 } }); await db.withSql(() => 1); }';
    expect(scanSource('routes/files/index.ts', source).map((f) => f.rule)).toEqual(['base-prisma', 'raw-connection']);
    expect(scanSource('services/token-lookups.ts', 'export const f = (db: any) => db.prisma.staffSession.findMany();')).toEqual([]);
  });

  it('flags a route that imports a unit-of-work opener', () => {
    const source = "import { ADMIN_CONTEXT, isUuid } from '@breezycorp/db';";
    expect(scanSource('routes/cycles/index.ts', source).map((f) => f.message)).toEqual(['route imports ADMIN_CONTEXT from @breezycorp/db']);
  });

  it('flags a client-scoped handler that uses the firm-wide transaction, and tenantDb elsewhere', () => {
    const source = `
      app.get('/api/clients/:clientId/files/:fileId', { config: { routeScope: 'client-scoped' } }, async (request) => {
        return firmDb(request).file.findUnique({ where: { id: request.params.fileId } });
      });
      app.get('/api/everything', { config: { routeScope: 'staff-only' } }, async (request) => tenantDb(request).file.findMany());
      app.get('/api/clients/:clientId/ok', { config: { routeScope: 'client-scoped' } }, async (request) => tenantDb(request).file.findMany());
    `;
    expect(scanSource('routes/files/index.ts', source).map((f) => f.rule)).toEqual([
      'client-scoped-uses-firm-db',
      'non-client-route-uses-tenant-db',
    ]);
  });

  it('treats clientScope (routes/client-route.ts) like tenantDb, and still sees firmDb beside it', () => {
    const source = `
      app.get('/api/clients/:clientId/ok', { config: { routeScope: 'client-scoped' } }, async (request) => {
        const { db, clientId } = clientScope(request);
        return db.file.findMany({ where: { clientId } });
      });
      app.get('/api/clients/:clientId/leak', { config: { routeScope: 'client-scoped', actors: ['contact'] } }, async (request) => {
        const { clientId } = clientScope(request);
        return firmDb(request).file.findMany({ where: { clientId } });
      });
      app.get('/api/everything', { config: { routeScope: 'staff-only', adminOnly: true } }, async (request) => clientScope(request).db.file.findMany());
    `;
    expect(scanSource('routes/files/index.ts', source).map((f) => [f.rule, f.message])).toEqual([
      ['client-scoped-uses-firm-db', '/api/clients/:clientId/leak: a client-scoped handler must use tenantDb'],
      ['non-client-route-uses-tenant-db', '/api/everything: clientScope on a staff-only route'],
    ]);
  });

  it('flags a route whose scope is not a literal in its options (a constant or a spread would hide its handler)', () => {
    const source = `
      const CONTACT_ONLY = { routeScope: 'client-scoped', actors: ['contact'] } as const;
      app.get('/api/portal/clients/:clientId/x', { config: CONTACT_ONLY }, async (request) => firmDb(request).file.findMany());
      app.post('/api/portal/clients/:clientId/y', { config: { ...CONTACT_ONLY, upload: true } }, async () => ({}));
      app.get('/api/z', { schema: {} }, async () => ({}));
      app.get('/api/ok', { config: { routeScope: 'public' } }, async () => ({}));
      names.get('not-a-route');
    `;
    expect(scanSource('routes/portal/index.ts', source).map((f) => [f.rule, f.line])).toEqual([
      ['route-scope-not-literal', 3],
      ['route-scope-not-literal', 4],
      ['route-scope-not-literal', 5],
    ]);
    // Outside route files the rule does not apply (plugins register no product routes).
    expect(scanSource('plugins/health.ts', source)).toEqual([]);
  });
});
