import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Every relative import (value or type) between the package's own modules. */
async function importGraph(): Promise<Map<string, string[]>> {
  const files = (await readdir(SRC, { recursive: true })).filter((f) => f.endsWith('.ts') && !f.startsWith('generated'));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = await readFile(path.join(SRC, file), 'utf8');
    const targets = [...text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)]
      .map((m) => path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), m[1] as string)))
      .filter((target) => !target.startsWith('generated'));
    graph.set(file, targets);
  }
  return graph;
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe("packages/db's module structure", () => {
  it('has no import circle (type-only imports count)', async () => {
    const graph = await importGraph();
    expect(graph.size).toBeGreaterThan(5);
    expect(findCycle(graph)).toBeNull();
  });

  it('finds a circle when there is one (the check can fail)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCycle(graph)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
  });

  it('keeps the unscoped client and owner-level helpers out of the safe entry', async () => {
    const safe = await import('../src/index.ts');
    for (const name of ['openDatabase', 'migrate', 'seedDemo', 'createAdmin', 'sealAudit', 'verifyAuditTrail', 'pgExecutor']) {
      expect(Object.keys(safe)).not.toContain(name);
    }
    const unsafe = await import('../src/unsafe.ts');
    expect(Object.keys(unsafe)).toEqual(expect.arrayContaining(['openDatabase', 'migrate', 'seedDemo', 'createAdmin', 'sealAudit']));
  });
});
