import { ADMIN_CONTEXT, type AdminCreation, type Database, DEMO, hashPasswordWithParams } from '@breezycorp/db';
import { createAdmin } from '@breezycorp/db/unsafe';
import { demoLoginInUse, staffPasswordParams } from './token-lookups.ts';

/**
 * The first admin of a real install: SPADE_ADMIN_EMAIL + SPADE_ADMIN_PASSWORD create it on
 * the first start while no admin exists, through the admin pool (spade_firm_admin may insert
 * staff users; spade_app may not). An existing admin or staff user is never changed.
 */
export async function ensureFirstAdmin(adminDb: Database, firstAdmin: { email: string; password: string }): Promise<AdminCreation> {
  return adminDb.inUnit(ADMIN_CONTEXT, (tx) =>
    createAdmin(tx, firstAdmin, { onlyIfNoAdmin: true, actor: { type: 'system', name: 'SPADE_ADMIN_EMAIL' } }),
  );
}

/** Demo accounts (`pnpm db:seed`) still signing in with the passwords the README publishes. */
export async function demoLoginsInUse(db: Database): Promise<string[]> {
  const inUse: string[] = [];
  for (const demo of Object.values(DEMO.staff)) {
    const hash = await hashPasswordWithParams(demo.password, await staffPasswordParams(db, demo.email));
    if (hash && (await demoLoginInUse(db, demo.email, hash))) inUse.push(demo.email);
  }
  return inUse;
}
