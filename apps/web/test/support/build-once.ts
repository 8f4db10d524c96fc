import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The browser tests drive the current source: build it (and check the bundle budgets) first. */
export default function setup() {
  execFileSync('pnpm', ['run', 'build'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    stdio: 'inherit',
    // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    env: { ...process.env, NODE_ENV: 'production' },
  });
}
