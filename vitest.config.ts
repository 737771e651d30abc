import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/helpers/build-dashboard.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Multi-process tests spawn workers; two cores are shared by all files.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
