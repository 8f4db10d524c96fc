import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * The JavaScript each app loads first, gzipped, against its budget: the portal runs on
 * clients' phones (≤ 150 KB), the console on staff desktops (≤ 300 KB). Follows the
 * entry's module scripts and their static imports (modulepreload links) in the built HTML.
 */
export const BUDGETS_KB = { portal: 150, app: 300 } as const;
const dist = path.resolve(import.meta.dirname, '../dist');

export function firstLoadScripts(entry: keyof typeof BUDGETS_KB): string[] {
  const html = readFileSync(path.join(dist, entry, 'index.html'), 'utf8');
  const urls = new Set<string>();
  for (const match of html.matchAll(/<script[^>]+src="([^"]+\.js)"/g)) urls.add(match[1]!);
  for (const match of html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g)) urls.add(match[1]!);
  return [...urls];
}

export function gzippedKb(entry: keyof typeof BUDGETS_KB): number {
  const bytes = firstLoadScripts(entry).reduce((sum, url) => sum + gzipSync(readFileSync(path.join(dist, url))).length, 0);
  return bytes / 1024;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  let over = false;
  for (const entry of Object.keys(BUDGETS_KB) as (keyof typeof BUDGETS_KB)[]) {
    const kb = gzippedKb(entry);
    const budget = BUDGETS_KB[entry];
    over ||= kb > budget;
    process.stdout.write(
      `${entry.padEnd(6)} first-load JS ${kb.toFixed(1)} KB gzipped (budget ${budget} KB)${kb > budget ? '  OVER BUDGET' : ''}\n`,
    );
  }
  if (over) process.exit(1);
}
