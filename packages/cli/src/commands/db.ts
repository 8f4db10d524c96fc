import { dataPaths } from '@breezycorp/db';
import { migrate, seedDemo } from '@breezycorp/db/unsafe';
import type { Command } from 'commander';
import { withUnsafeOwnerDatabase } from '../database.ts';
import type { Io } from '../io.ts';

export function registerDbCommands(program: Command, io: Io) {
  const db = program
    .command('db')
    .description('database migrations and demo data')
    .addHelpText('after', '\nExample:\n  pnpm spade db migrate && pnpm spade db seed');
  db.command('migrate')
    .description('apply the SQL migrations in packages/db/migrations (idempotent)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  DATABASE_URL=postgres://postgres@127.0.0.1:5432/spade pnpm spade db migrate')
    .action(async (options: { json?: boolean }) => {
      const report = await withUnsafeOwnerDatabase(io, (database) => database.withSql((sql) => migrate(sql)));
      if (options.json) io.out(JSON.stringify(report));
      else
        io.out(
          `applied ${report.applied.length} migration(s)${report.applied.length ? `: ${report.applied.join(', ')}` : ''}; ${report.alreadyApplied.length} already applied`,
        );
    });
  db.command('seed')
    .description('load the deterministic demo data once (a second run changes nothing)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  pnpm spade db seed')
    .action(async (options: { json?: boolean }) => {
      const report = await withUnsafeOwnerDatabase(io, (database) =>
        seedDemo(database.prisma, { storageDir: dataPaths(io.env).storageDir }),
      );
      if (options.json) {
        io.out(JSON.stringify({ seeded: report.seeded, logins: report.logins.map(({ email, role }) => ({ email, role })) }));
        return;
      }
      io.out(report.seeded ? 'demo data seeded' : 'demo data already present; nothing changed');
      for (const login of report.logins) io.out(`  ${login.role.padEnd(6)} ${login.email}  password: ${login.password}`);
    });
}
