import { isUuid } from '@breezycorp/db';
import type { Command } from 'commander';
import { CliError, EXIT, type Io } from './io.ts';

/** Who ran the command, for the audit trail: --operator, else $USER (or $LOGNAME). */
export function operatorName(io: Io, option: string | undefined): string {
  const name = (option ?? io.env.USER ?? io.env.LOGNAME ?? '').trim();
  if (!name) throw new CliError('Who is running this? Pass --operator NAME (or set $USER): every action is recorded.', EXIT.usage);
  if (name.length > 100) throw new CliError('--operator is longer than 100 characters', EXIT.usage);
  return name;
}

export function withOperatorOption(command: Command): Command {
  return command.option('--operator <name>', 'who is acting, for the audit trail (default: $USER)');
}

/** Ids are uuids; anything else cannot name a row, and saying so beats a database cast error. */
export function requireUuid(value: string, what: string): string {
  if (!isUuid(value)) throw new CliError(`${what} "${value}" is not a uuid`, EXIT.usage);
  return value.toLowerCase();
}
