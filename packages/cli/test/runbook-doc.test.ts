import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RUNBOOK_SQL } from '@breezycorp/db/runbook-sql';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/program.ts';
import { captureIo } from './support.ts';

/*
 * docs/runbooks/suspected-tenant-leak.md shows each manual step as SQL and as a command.
 * The SQL must stay the runbook's, verbatim (spec: docs/spec/suspected-tenant-leak.runbook.md),
 * and every `pnpm spade …` line must name a real command with real options.
 */
const RUNBOOK_STATEMENTS = Object.values(RUNBOOK_SQL);

const DOC = path.resolve(import.meta.dirname, '../../../docs/runbooks/suspected-tenant-leak.md');

/** `pnpm spade a b --x …` lines of the doc's shell blocks, continuation lines joined. */
function spadeCommandLines(doc: string): string[] {
  const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n\s*/g, ' '));
  return blocks.flatMap((block) => block.split('\n')).filter((line) => line.includes('pnpm spade '));
}

function resolve(program: Command, line: string): { command: Command; path: string[]; options: string[] } {
  const words = line.slice(line.indexOf('pnpm spade ') + 'pnpm spade '.length).split(/\s+/);
  let command = program;
  const commandPath: string[] = [];
  for (const word of words) {
    const sub = command.commands.find((c) => c.name() === word);
    if (!sub) break;
    command = sub;
    commandPath.push(word);
  }
  const options = words.filter((w) => /^--[a-z]/.test(w)).map((w) => w.replace(/=.*$/, ''));
  return { command, path: commandPath, options };
}

describe('the runbook in the repository', () => {
  it('keeps the runbook’s SQL blocks verbatim', async () => {
    const doc = await readFile(DOC, 'utf8');
    for (const sql of RUNBOOK_STATEMENTS) expect(doc).toContain(`\`\`\`sql\n${sql}\n\`\`\``);
  });

  it('names only commands and options that exist', async () => {
    const doc = await readFile(DOC, 'utf8');
    const lines = spadeCommandLines(doc);
    expect(lines.length).toBeGreaterThan(15);
    const program = buildProgram(captureIo({}));
    const used = new Set<string>();
    for (const line of lines) {
      const { command, path: commandPath, options } = resolve(program, line);
      expect(command.commands, `${line}: not a leaf command`).toEqual([]);
      used.add(commandPath.join(' '));
      const known = command.options.map((o) => o.long);
      for (const option of options) expect(known, `${line}: ${option}`).toContain(option);
    }
    // Every runbook step has its command.
    for (const step of [
      'incident open',
      'evidence request',
      'sessions revoke',
      'requests expire',
      'audit actor',
      'audit affected',
      'routes scope',
      'routes check',
      'routes offline',
      'routes online',
      'disclosure draft',
      'postmortem new',
      'incident clocks',
    ]) {
      expect([...used], step).toContain(step);
    }
  });
});
