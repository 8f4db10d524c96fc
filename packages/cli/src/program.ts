import { Command, CommanderError } from 'commander';
import { registerDbCommands } from './commands/db.ts';
import { CliError, EXIT, type Io } from './io.ts';

export function buildProgram(io: Io): Command {
  const program = new Command('spade')
    .description('Spade operations: migrations, demo data and the tenant-leak runbook as commands')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .addHelpText(
      'after',
      `\nExit codes: ${EXIT.ok} ok, ${EXIT.failure} failure, ${EXIT.usage} usage error, ${EXIT.notFound} unknown id, ${EXIT.databaseDown} database unreachable`,
    );
  registerDbCommands(program, io);
  return program;
}

/** Runs one command line; returns the exit code instead of exiting (tests call this). */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      io.err(`error: ${error.message}`);
      return error.exitCode;
    }
    io.err(`error: ${(error as Error).message}`);
    return EXIT.failure;
  }
}
