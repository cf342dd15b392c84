import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests spawn real processes; two cores here, so keep the pool small.
    maxWorkers: 2,
    // The browser tests need the web app built (dist/web).
    globalSetup: ['test/helpers/build-web-setup.ts'],
  },
})
