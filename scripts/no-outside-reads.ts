import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Part of `pnpm lint`: nothing in the product or its tests may read outside the repository
 * (a clone elsewhere has no `../shared` beside it). Every relative path literal in tracked
 * source — `new URL('…', import.meta.url)`, `path.join/resolve(…, '…')`, imports — is
 * resolved against its file and must stay inside the repository root; a literal naming
 * the developers' `shared/` folder is refused outright.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface OutsideRead {
  file: string;
  line: number;
  literal: string;
}

const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
// A string literal that starts with ./ or ../ (the only way to climb out relatively).
const RELATIVE_LITERAL = /(['"`])(\.\.?\/[^'"`\n]*)\1/g;
const SHARED = /(['"`])[^'"`\n]*(?:^|\/)shared\/(?:spec|hooks|DESIGN|STYLE)[^'"`\n]*\1/;

export function scanSource(file: string, text: string): OutsideRead[] {
  const findings: OutsideRead[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed.startsWith('//') || trimmed.startsWith('*') || trimmed.startsWith('/*')) return;
    if (SHARED.test(line)) findings.push({ file, line: index + 1, literal: line.trim() });
    for (const match of line.matchAll(RELATIVE_LITERAL)) {
      const literal = match[2]!;
      // Climbing is the only way out; `../x` from a file in the root is already outside.
      const resolved = path.resolve(root, path.dirname(file), literal);
      if (resolved !== root && !resolved.startsWith(root + path.sep)) findings.push({ file, line: index + 1, literal });
    }
  });
  return findings;
}

export function scanRepository(): OutsideRead[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((file) => SOURCE.test(file) && !file.includes('/generated/'));
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(path.join(root, file), 'utf8');
    } catch {
      return []; // deleted in the work tree
    }
    return scanSource(file, text);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const findings = scanRepository();
  for (const finding of findings) console.error(`${finding.file}:${finding.line}: reads outside the repository: ${finding.literal}`);
  if (findings.length > 0) process.exit(1);
  console.log('no-outside-reads: every relative path stays inside the repository');
}
