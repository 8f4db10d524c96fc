import { AdminCreationError } from '@breezycorp/db';
import { createAdmin } from '@breezycorp/db/unsafe';
import type { Command } from 'commander';
import { emit, withExamples, withJson } from '../command-helpers.ts';
import { withUnsafeOwnerDatabase } from '../database.ts';
import { CliError, EXIT, type Io } from '../io.ts';
import { operatorName, withOperatorOption } from '../operator.ts';

interface CreateAdminOptions {
  email: string;
  name?: string;
  passwordStdin?: boolean;
  operator?: string;
  json?: boolean;
}

/**
 * The password never comes from argv (it would sit in shell history and `ps`): from a
 * prompt, asked twice, on a terminal; from stdin with --password-stdin otherwise.
 */
async function readPassword(io: Io, fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin) {
    if (!io.readStdin) throw new CliError('--password-stdin needs the password piped on stdin', EXIT.usage);
    // One line: a trailing newline from `echo` or a file is not part of the password.
    return (await io.readStdin()).replace(/\r?\n$/, '');
  }
  if (!io.prompt) throw new CliError('No terminal to ask for the password: pipe it on stdin with --password-stdin', EXIT.usage);
  const first = await io.prompt('Password for the new admin: ');
  const second = await io.prompt('Repeat the password: ');
  if (first !== second) throw new CliError('The two passwords differ; nothing changed', EXIT.usage);
  return first;
}

/** Firm administration an operator does outside the API: the first (or a rescue) admin. */
export function registerStaffCommands(program: Command, io: Io) {
  const staff = withExamples(
    program.command('staff').description('staff users (operator): create an admin without the demo seed'),
    'pnpm spade staff create-admin --email ops@firm.example',
  );
  withExamples(
    withJson(
      withOperatorOption(
        staff
          .command('create-admin')
          .description('create an admin staff user; the password is asked for (or read from stdin), never given as an argument')
          .requiredOption('--email <email>', 'the admin’s sign-in email')
          .option('--name <name>', 'display name (default: the email’s local part)')
          .option('--password-stdin', 'read the password from stdin (one line) instead of asking'),
      ),
    ),
    'pnpm spade staff create-admin --email ops@firm.example',
    'printf \'%s\\n\' "$ADMIN_PASSWORD" | pnpm spade staff create-admin --email ops@firm.example --password-stdin',
  ).action(async (options: CreateAdminOptions) => {
    const operator = operatorName(io, options.operator);
    const password = await readPassword(io, options.passwordStdin);
    const result = await withUnsafeOwnerDatabase(io, (db) =>
      db.prisma.$transaction((tx) =>
        createAdmin(
          tx,
          { email: options.email, password, ...(options.name ? { name: options.name } : {}) },
          { onlyIfNoAdmin: false, actor: { type: 'operator', name: operator } },
        ),
      ),
    ).catch((error: unknown) => {
      throw error instanceof AdminCreationError ? new CliError(error.message, EXIT.usage) : error;
    });
    if (!result.created) throw new CliError(`A staff user ${result.email} already exists; nothing changed`, EXIT.failure);
    emit(io, options.json, result, () => `admin ${result.email} created (${result.staffUserId}); sign in at /app with that password`);
  });
}
