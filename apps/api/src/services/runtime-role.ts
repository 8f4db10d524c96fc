import { type Database, verifyTenantContext } from '@breezycorp/db';

export class UnsafeRuntimeRoleError extends Error {
  override name = 'UnsafeRuntimeRoleError';
}

/**
 * Layer 4 depends on the runtime role being unable to bypass RLS. On PostgreSQL the app
 * logs in as spade_app and refuses to boot if that role is a superuser, has BYPASSRLS or
 * owns a table. On PGlite (one superuser) every unit of work switches to spade_app, so the
 * same attributes are checked on spade_app itself.
 */
export async function assertRuntimeRole(db: Database): Promise<void> {
  await db.withSql(async (sql) => {
    const roleName = db.kind === 'postgres' ? 'current_user' : "'spade_app'";
    const rows = await sql.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; owned: string }>(
      `SELECT r.rolname, r.rolsuper, r.rolbypassrls,
              (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm'))::text AS owned
         FROM pg_roles r WHERE r.rolname = ${roleName}`,
    );
    const role = rows[0];
    if (!role) throw new UnsafeRuntimeRoleError('runtime role not found; run the migrations first');
    const problems = [
      role.rolsuper && 'is a superuser',
      role.rolbypassrls && 'has BYPASSRLS',
      role.owned !== '0' && `owns ${role.owned} relation(s)`,
      db.kind === 'postgres' && role.rolname !== 'spade_app' && `is ${role.rolname}, not spade_app`,
    ].filter(Boolean);
    if (problems.length > 0) {
      throw new UnsafeRuntimeRoleError(`Refusing to start: the runtime database role ${problems.join(', ')}.`);
    }
  });
  // And every unit of work must really switch to spade_app with its tenant set.
  await verifyTenantContext(db.prisma);
}
