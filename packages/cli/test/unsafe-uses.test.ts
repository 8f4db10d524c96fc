import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * STYLE rule 8: code that bypasses tenant scope is named unsafe…, lives in one place, and
 * every use is listed by a test. The CLI's owner connection sees every tenant's rows.
 */
describe('unsafe owner connection', () => {
  it('is used only by the operations commands listed here (a new use is a visible diff)', async () => {
    const srcDir = path.resolve(import.meta.dirname, '../src');
    const files = (await readdir(srcDir, { recursive: true })).filter((f) => f.endsWith('.ts')).sort();
    const users: string[] = [];
    for (const file of files) {
      const source = await readFile(path.join(srcDir, file), 'utf8');
      if (/withUnsafeOwnerDatabase\(/.test(source) && file !== 'database.ts') users.push(file.split(path.sep).join('/'));
    }
    expect(users).toEqual([
      'commands/audit-trail.ts',
      'commands/db.ts',
      'commands/decoys.ts',
      'commands/incident.ts',
      'commands/routes.ts',
      'commands/staff.ts',
      'commands/tenants.ts',
      'operator-action.ts',
    ]);
  });
});
