import { describe, expect, it } from 'vitest';
import { scanRepository, scanSource } from '../../../../scripts/no-outside-reads.ts';

describe('nothing in the product or its tests reads outside the repository', () => {
  it('the repository has no path literal that climbs out of it or names the developers’ shared folder', () => {
    expect(scanRepository()).toEqual([]);
  });

  it('catches a test reading ../shared (the way a clone without it broke before)', () => {
    // Assembled at run time so that this file does not itself hold the literal it tests for.
    const source = `const spec = new URL('../../../../${'shared'}/spec/suspected-tenant-leak.runbook.md', import.meta.url);`;
    const findings = scanSource('packages/db/test/runbook-sql.test.ts', source);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((finding) => finding.line === 1)).toBe(true);
  });

  it('catches a path.join that climbs above the root, and passes one that stays inside', () => {
    expect(scanSource('apps/api/src/x.ts', "path.join(here, '../../../../etc/passwd')")).toHaveLength(1);
    expect(scanSource('apps/api/src/x.ts', "path.join(here, '../../docs/spec/a.md')")).toEqual([]);
  });
});
