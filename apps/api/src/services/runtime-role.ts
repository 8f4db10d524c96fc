import type { Database } from '@breezycorp/db';
import { type SqlExecutor, unscoped } from '@breezycorp/db/unsafe';

export class UnsafeRuntimeRoleError extends Error {
  override name = 'UnsafeRuntimeRoleError';
}

/**
 * The roles `role` is a member of (directly or not) that could see past row-level security:
 * a superuser, a BYPASSRLS role, a role owning a relation (an owner may switch RLS off), or
 * a role named in a policy — the only named policies are the all-seeing `admin_all`.
 */
export async function reachableAllSeeingRoles(sql: SqlExecutor, role: string, except: string[] = []): Promise<string[]> {
  const rows = await sql.query<{ rolname: string }>(
    `SELECT r.rolname FROM pg_roles r
      WHERE r.rolname <> $1 AND NOT (r.rolname = ANY ($2::text[])) AND pg_has_role($1, r.oid, 'MEMBER')
        AND (r.rolsuper OR r.rolbypassrls
             OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm'))
             OR EXISTS (SELECT 1 FROM pg_policy p WHERE r.oid = ANY (p.polroles)))
      ORDER BY 1`,
    [role, except],
  );
  return rows.map((row) => row.rolname);
}

async function roleProblems(sql: SqlExecutor, roleName: string): Promise<string[]> {
  const rows = await sql.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; owned: string }>(
    `SELECT r.rolname, r.rolsuper, r.rolbypassrls,
            (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm'))::text AS owned
       FROM pg_roles r WHERE r.rolname = $1`,
    [roleName],
  );
  const role = rows[0];
  if (!role) return ['does not exist; run the migrations first'];
  return [
    role.rolsuper && 'is a superuser',
    role.rolbypassrls && 'has BYPASSRLS',
    role.owned !== '0' && `owns ${role.owned} relation(s)`,
  ].filter((problem): problem is string => typeof problem === 'string');
}

async function currentUser(sql: SqlExecutor): Promise<string> {
  const rows = await sql.query<{ user: string }>('SELECT current_user AS user');
  return rows[0]?.user ?? '';
}

/**
 * Layer 4 depends on the runtime role being unable to get around RLS. On PostgreSQL the app
 * logs in as spade_app and refuses to boot if that role is a superuser, has BYPASSRLS, owns
 * a table, or can reach a role that does or whose policies admit every row (spade_firm_admin):
 * SQL run on the app's connection must not be one `SET ROLE` away from every tenant. On
 * PGlite (one superuser) every unit of work switches to spade_app, so spade_app itself is
 * checked. The admin pool must log in as spade_admin_login, which is no more than that.
 */
export async function assertRuntimeRole(db: Database, adminDb: Database | null = db): Promise<void> {
  const problems: string[] = [];
  await unscoped(db).withSql(async (sql) => {
    if (db.kind === 'postgres') {
      const user = await currentUser(sql);
      if (user !== 'spade_app') problems.push(`the runtime database role is ${user}, not spade_app`);
    }
    for (const problem of await roleProblems(sql, 'spade_app')) problems.push(`spade_app ${problem}`);
    const reachable = await reachableAllSeeingRoles(sql, 'spade_app');
    if (reachable.length > 0) problems.push(`spade_app can switch to ${reachable.join(', ')}, which see(s) past row-level security`);
  });
  if (adminDb && adminDb !== db && adminDb.kind === 'postgres') {
    await unscoped(adminDb).withSql(async (sql) => {
      const user = await currentUser(sql);
      if (user !== 'spade_admin_login') problems.push(`the admin database role is ${user}, not spade_admin_login`);
      for (const problem of await roleProblems(sql, user)) problems.push(`${user} ${problem}`);
      const reachable = await reachableAllSeeingRoles(sql, user, ['spade_firm_admin']);
      if (reachable.length > 0) problems.push(`${user} can switch to ${reachable.join(', ')}`);
    });
  }
  if (problems.length > 0) throw new UnsafeRuntimeRoleError(`Refusing to start: ${problems.join('; ')}.`);
  // And every unit of work must really switch to spade_app with its tenant set...
  await db.verifyTenantContext();
  // ...and admin units of work to spade_firm_admin, on the admin pool (a process without
  // admin routes — the delivery worker — has none: null).
  if (!adminDb) return;
  await adminDb.verifyAdminContext().catch((error: unknown) => {
    throw new UnsafeRuntimeRoleError(`Refusing to start: the admin pool cannot run admin units of work (${(error as Error).message}).`);
  });
}
