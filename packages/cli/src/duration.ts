import { InvalidArgumentError } from 'commander';

/** A look-back window as the operator types it: `90s`, `30m`, `24h`, `7d`. */
export interface Duration {
  /** As typed, for messages. */
  text: string;
  ms: number;
  /** A PostgreSQL interval literal, passed as a parameter (`$1::interval`). */
  interval: string;
}

const UNITS = { s: ['seconds', 1_000], m: ['minutes', 60_000], h: ['hours', 3_600_000], d: ['days', 86_400_000] } as const;
const MAX_MS = 3_650 * 86_400_000;

export function parseDuration(text: string): Duration {
  const match = /^(\d{1,7})([smhd])$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`"${text}" is not a duration: use a whole number and a unit, e.g. 90s, 30m, 24h, 7d`);
  const count = Number(match[1]);
  const [unit, unitMs] = UNITS[match[2] as keyof typeof UNITS];
  const ms = count * unitMs;
  if (count < 1 || ms > MAX_MS) throw new InvalidArgumentError(`"${text}" must be between 1s and 3650d`);
  return { text: text.trim(), ms, interval: `${count} ${unit}` };
}
