import { Command, CommanderError } from 'commander';
import { registerAuditCommands } from './commands/audit.ts';
import { registerContainmentCommands } from './commands/containment.ts';
import { registerDbCommands } from './commands/db.ts';
import { registerDecoyCommands } from './commands/decoys.ts';
import { registerDisclosureCommands } from './commands/disclosure.ts';
import { registerEvidenceCommands } from './commands/evidence.ts';
import { registerIncidentCommands } from './commands/incident.ts';
import { registerRouteCommands } from './commands/routes.ts';
import { registerStaffCommands } from './commands/staff.ts';
import { registerTenantCommands } from './commands/tenants.ts';
import { registerWorkerCommands } from './commands/worker.ts';
import { CliError, EXIT, EXIT_CODES_HELP, type Io } from './io.ts';

export function buildProgram(io: Io): Command {
  const program = new Command('spade')
    .description('Spade operations: migrations, demo data and the tenant-leak runbook as commands')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .addHelpText(
      'after',
      `\n${EXIT_CODES_HELP}\n\nRunbook: docs/runbooks/suspected-tenant-leak.md — every step as SQL and as a command.\n\nExample:\n  pnpm spade incident open --title "…" --reporter "…"`,
    );
  registerDbCommands(program, io);
  registerIncidentCommands(program, io);
  registerEvidenceCommands(program, io);
  registerContainmentCommands(program, io);
  registerAuditCommands(program, io);
  registerRouteCommands(program, io);
  registerTenantCommands(program, io);
  registerDecoyCommands(program, io);
  registerDisclosureCommands(program, io);
  registerStaffCommands(program, io);
  registerWorkerCommands(program, io);
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
