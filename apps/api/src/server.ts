import { type Database, migrate, openDatabase, seedDemo } from '@breezycorp/db';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { parseConfig } from './config.ts';

/** Process entry: config → database → app.listen, with graceful shutdown. */
const config = parseConfig();

let db: Database;
if (config.database.kind === 'pglite') {
  // The embedded default: one in-process database, migrated and seeded on first start.
  db = await openDatabase(config.database);
  await db.withSql((sql) => migrate(sql));
  const seed = await seedDemo(db.prisma, { storageDir: config.storageDir });
  printDemo(seed);
} else {
  db = await openDatabase(config.database);
}
// buildApp refuses to boot if the runtime role could bypass row-level security.
const app = await buildApp(config, { db });
closeWithGrace({ delay: 10_000 }, async ({ err }) => {
  if (err) app.log.error({ err }, 'shutting down after an error');
  await app.close();
  await db.close();
});
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
