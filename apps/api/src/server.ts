import { migrate, openDatabase, seedDemo, type UnsafeDatabase } from '@breezycorp/db/unsafe';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { parseConfig } from './config.ts';
import { demoLoginsInUse, ensureFirstAdmin } from './services/first-admin.ts';

/** Process entry: config → database → app.listen, with graceful shutdown. */
const config = parseConfig();

let db: UnsafeDatabase;
if (config.database.kind === 'pglite') {
  // The embedded default: one in-process database, migrated and seeded on first start.
  db = await openDatabase(config.database);
  await db.withSql((sql) => migrate(sql));
  const seed = await seedDemo(db.prisma, { storageDir: config.storageDir });
  printDemo(seed);
} else {
  db = await openDatabase(config.database);
}
// Admin firm-wide reads log in on their own (spade_admin_login); embedded: the same database.
const adminDb = config.adminDatabase ? await openDatabase(config.adminDatabase) : db;
// buildApp refuses to boot if the runtime role could bypass row-level security.
const app = await buildApp(config, { db, adminDb });
closeWithGrace({ delay: 10_000 }, async ({ err }) => {
  if (err) app.log.error({ err }, 'shutting down after an error');
  await app.close();
  await db.close();
  if (adminDb !== db) await adminDb.close();
});
if (config.firstAdmin) {
  const result = await ensureFirstAdmin(adminDb, config.firstAdmin);
  if (result.created) app.log.info({ staffUserId: result.staffUserId }, `first admin ${result.email} created from SPADE_ADMIN_EMAIL`);
  else if (result.reason === 'email_taken') app.log.warn(`SPADE_ADMIN_EMAIL ${result.email} is already a staff user; nothing changed`);
}
if (config.database.kind === 'postgres') {
  const demo = await demoLoginsInUse(db);
  if (demo.length > 0) {
    const warning = `WARNING: demo staff users with their PUBLISHED passwords exist on this database (${demo.join(', ')}). Anyone who has read the README can sign in as them. Disable them or change their passwords before exposing Spade.`;
    app.log.warn(warning);
    process.stderr.write(`\n${'!'.repeat(80)}\n${warning}\n${'!'.repeat(80)}\n\n`);
  }
}
const address = await app.listen({ port: config.port, host: config.host });
process.stdout.write(`Spade API listening on ${address}  (GET /healthz, /openapi.json)\n`);

function printDemo(seed: Awaited<ReturnType<typeof seedDemo>>) {
  const lines = ['', `Spade (embedded database in ${config.dataDir})`, 'Demo logins:'];
  for (const login of seed.logins) lines.push(`  ${login.role.padEnd(6)} ${login.email}  password: ${login.password}`);
  for (const link of seed.magicLinks) {
    lines.push(`  portal link for ${link.contactEmail} (${link.clientName}): ${config.publicBaseUrl}/portal#token=${link.token}`);
  }
  if (!seed.seeded) lines.push('  (demo data was seeded earlier; magic links are shown only on the first start)');
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n`);
}
