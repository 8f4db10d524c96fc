import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, runCli } from '../src/program.ts';
import { captureIo } from './support.ts';

/** Every command path of the CLI, found by walking commander's tree (so a new command is covered without a new test). */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((sub) => [[...prefix, sub.name()], ...commandPaths(sub, [...prefix, sub.name()])]);
}

const paths = commandPaths(buildProgram(captureIo({})));

describe('spade --help', () => {
  it('finds every command of the runbook', () => {
    const names = paths.map((p) => p.join(' '));
    for (const expected of [
      'incident open',
      'incident timeline',
      'incident notifiable',
      'incident resolve',
      'incident clocks',
      'evidence request',
      'sessions revoke',
      'requests expire',
      'audit actor',
      'audit affected',
      'routes list',
      'routes check',
      'routes scope',
      'routes offline',
      'routes online',
      'disclosure draft',
      'postmortem new',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('the top level lists the exit codes', async () => {
    const io = captureIo({});
    expect(await runCli(['--help'], io)).toBe(0);
    expect(io.text()).toMatch(/Exit codes: 0 ok, 1 failure.*2 usage.*3 unknown id, 4 database unreachable, 5 API unreachable/);
  });

  for (const commandPath of paths) {
    it(`${commandPath.join(' ')} --help exits 0 and shows an example`, async () => {
      const io = captureIo({});
      expect(await runCli([...commandPath, '--help'], io)).toBe(0);
      expect(io.text()).toContain(`Usage: spade ${commandPath.join(' ')}`);
      expect(io.text()).toMatch(/Examples?:\n {2}\S/);
    });
  }

  it('every leaf command offers --json', () => {
    const leaves = (command: Command, prefix: string[] = []): [string, Command][] =>
      command.commands.flatMap((sub) =>
        sub.commands.length ? leaves(sub, [...prefix, sub.name()]) : [[[...prefix, sub.name()].join(' '), sub]],
      );
    for (const [name, command] of leaves(buildProgram(captureIo({})))) {
      expect(
        command.options.map((o) => o.long),
        name,
      ).toContain('--json');
    }
  });
});
