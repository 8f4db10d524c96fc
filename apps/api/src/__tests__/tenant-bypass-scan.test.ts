import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALLOWED, scanSource, scanTree } from '../../scripts/tenant-bypass-scan.ts';

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
      basePrisma: [
        'plugins/unit-of-work.ts',
        'plugins/audit.ts',
        'plugins/auth.ts',
        'plugins/kill-switch.ts',
        'services/first-admin.ts',
        // The delivery worker: claims across tenants (unsafe-claims), then one client unit per message.
        'services/delivery/reminder-scheduler.ts',
        'services/delivery/unsafe-claims.ts',
        'services/delivery/worker.ts',
        'services/detection-store.ts',
        'services/magic-links.ts',
        'services/runtime-role.ts',
        'services/token-lookups.ts',
        'server.ts',
      ],
      rawConnection: ['routes/health.ts', 'services/detection-store.ts', 'services/runtime-role.ts', 'server.ts'],
    });
  });

  it('flags raw SQL in a route', () => {
    const findings = scanSource('routes/leaky/index.ts', 'export const f = (db: any) => db.prisma.$queryRaw`SELECT * FROM files`;');
    expect(findings.map((f) => f.rule).sort()).toEqual(['base-prisma', 'raw-sql']);
  });

  it('flags the unscoped client and a raw connection outside their owners', () => {
    const source = 'export async function f(db: any) { await db.prisma.file.findUnique({ where: { id: 1 } }); await db.withSql(() => 1); }';
    expect(scanSource('routes/files/index.ts', source).map((f) => f.rule)).toEqual(['base-prisma', 'raw-connection']);
    expect(scanSource('plugins/auth.ts', 'export const f = (db: any) => db.prisma.staffSession.findMany();')).toEqual([]);
  });

  it('flags a route that imports a unit-of-work opener', () => {
    const source = "import { inUnitOfWork, isUuid } from '@breezycorp/db';";
    expect(scanSource('routes/cycles/index.ts', source).map((f) => f.message)).toEqual(['route imports inUnitOfWork from @breezycorp/db']);
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
});
