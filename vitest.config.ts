import { defineConfig } from 'vitest/config'

const BROWSER_TESTS = 'test/web/browser-*.test.ts'

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests spawn real processes; two cores here, so keep the pool small.
    maxWorkers: 2,
    // The browser tests need the web app built (dist/web).
    globalSetup: ['test/helpers/build-web-setup.ts'],
    projects: [
      { extends: true, test: { name: 'node', include: ['test/**/*.test.ts'], exclude: [BROWSER_TESTS] } },
      // Chromium, a node process and the page's peer load both cores: run them after the rest,
      // not beside tests that spawn processes of their own.
      { extends: true, test: { name: 'browser', include: [BROWSER_TESTS], sequence: { groupOrder: 1 } } },
    ],
  },
})
