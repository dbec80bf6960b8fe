import { existsSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Two cores: race tests stay robust when files do not fight for them.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'sdk',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', '**/node_modules/**'],
          testTimeout: 20_000,
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: 'tsconfig.json' },
        },
      },
      {
        // Real Chromium against the real demo server; skipped with a notice when no Chromium
        // is found (env CHROMIUM_PATH or /usr/bin/chromium), a failure when CI=true.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      ...(existsSync('demo-server/vitest.config.ts') ? ['demo-server'] : []),
    ],
  },
})
