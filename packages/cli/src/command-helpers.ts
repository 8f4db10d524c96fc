import { type Command, InvalidArgumentError } from 'commander';
import { type Duration, parseDuration } from './duration.ts';
import { parseFirmTime } from './firm-time.ts';
import type { Io } from './io.ts';

/** Every command's help ends with at least one example an operator can paste. */
export function withExamples(command: Command, ...examples: string[]): Command {
  return command.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  ${e}`).join('\n')}`);
}

export function withJson(command: Command): Command {
  return command.option('--json', 'print the result as JSON');
}

export const durationOption = (value: string): Duration => parseDuration(value);

export const timeOption = (value: string): Date => parseFirmTime(value);

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive whole number`);
  return n;
}

/** Prints JSON or the human lines. */
export function emit(io: Io, json: boolean | undefined, value: unknown, human: () => string[] | string): void {
  if (json) {
    io.out(JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? Number(v) : v), 2));
    return;
  }
  const text = human();
  for (const line of Array.isArray(text) ? text : [text]) io.out(line);
}
