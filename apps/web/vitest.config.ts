import { defineConfig } from 'vitest/config';

/** Browser journeys: one real API + PostgreSQL per file, one Chromium; files run one at a time (shared CPUs). */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build-once.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
