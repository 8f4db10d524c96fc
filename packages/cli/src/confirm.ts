import { CliError, EXIT, type Io } from './io.ts';

export interface ContainmentOptions {
  yes?: boolean;
  dryRun?: boolean;
}

/**
 * Containment changes production state, so a person confirms it: --yes, or an answer at
 * the terminal. With no terminal (or in CI) and no --yes, refuse rather than guess.
 */
export async function confirmContainment(io: Io, options: ContainmentOptions, summary: string): Promise<void> {
  if (options.yes) return;
  const interactive = io.prompt !== undefined && !io.env.CI;
  if (!interactive) {
    throw new CliError(
      `Refusing to change anything without confirmation: ${summary}. This session is not interactive (no terminal, or CI is set); ` +
        're-run with --yes to proceed, or --dry-run to see what would change.',
      EXIT.usage,
    );
  }
  const answer = (await io.prompt!(`${summary}. Proceed? [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new CliError('Aborted by the operator; nothing changed.');
}
