import { insertAuditRows } from './audit-rows.ts';
import { hashPassword, passwordPolicyProblem } from './secrets.ts';
import type { TxClient } from './unit-of-work.ts';

/**
 * Creating an admin without the demo seed: the API's first start (SPADE_ADMIN_EMAIL and
 * SPADE_ADMIN_PASSWORD, only while no admin exists) and `spade staff create-admin` (an
 * operator, any time). Neither ever changes an existing staff user. The caller provides the
 * transaction: the API's admin unit of work, or the CLI's owner connection.
 */

export class AdminCreationError extends Error {
  override name = 'AdminCreationError';
}

export interface NewAdmin {
  email: string;
  password: string;
  name?: string;
}

export type AdminCreation =
  | { created: true; staffUserId: string; email: string }
  | { created: false; reason: 'admin_exists' | 'email_taken'; email: string };

/** One key for every creator, so two instances booting at once create one admin, not two. */
const ADMIN_CREATION_LOCK = 0x5ade_0ad1;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export async function createAdmin(
  tx: TxClient,
  admin: NewAdmin,
  options: { onlyIfNoAdmin: boolean; actor: { type: 'system' | 'operator'; name: string } },
): Promise<AdminCreation> {
  const email = admin.email.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 254) throw new AdminCreationError(`"${admin.email}" is not an email address`);
  const problem = passwordPolicyProblem(admin.password, { email });
  if (problem) throw new AdminCreationError(`Refusing the admin password: ${problem}.`);
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${ADMIN_CREATION_LOCK})`;
  if (options.onlyIfNoAdmin && (await tx.staffUser.count({ where: { role: 'admin' } })) > 0) {
    return { created: false, reason: 'admin_exists', email };
  }
  if (await tx.staffUser.findFirst({ where: { email: { equals: email, mode: 'insensitive' } }, select: { id: true } })) {
    return { created: false, reason: 'email_taken', email };
  }
  const user = await tx.staffUser.create({
    data: {
      email,
      name: admin.name?.trim() || email.split('@')[0] || email,
      role: 'admin',
      passwordHash: await hashPassword(admin.password),
    },
    select: { id: true },
  });
  await insertAuditRows(tx, [
    {
      eventType: 'staff_user.admin_created',
      actorType: options.actor.type,
      actorId: null,
      clientId: null,
      entityType: 'staff_user',
      entityId: user.id,
      requestId: null,
      eventDataJson: { via: options.actor.name, firstAdmin: options.onlyIfNoAdmin },
    },
  ]);
  return { created: true, staffUserId: user.id, email };
}
