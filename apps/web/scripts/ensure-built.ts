import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** `pnpm start` on a fresh clone: build the web app once if its output is missing (no second server). */
const web = path.resolve(import.meta.dirname, '..');
const built = ['portal', 'app'].every((entry) => existsSync(path.join(web, 'dist', entry, 'index.html')));
if (!built) {
  process.stdout.write('Building the web app (first start)…\n');
  execFileSync('pnpm', ['run', 'build'], { cwd: web, stdio: 'inherit' });
}
