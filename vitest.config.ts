import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// examples/ import the package by name, as an app does (tsconfig "paths"); the tests that run them get the source too.
const entries: Record<string, string> = {
  'silent-refresh': 'index.ts',
  'silent-refresh/fetch': 'adapters/fetch.ts',
  'silent-refresh/react': 'integrations/react/index.ts',
  'silent-refresh/react-native': 'integrations/react-native/index.ts',
  'silent-refresh/rtk-query': 'integrations/rtk-query/index.ts',
  'silent-refresh/dpop': 'dpop/index.ts',
}
const alias = Object.entries(entries).map(([name, file]) => ({ find: new RegExp(`^${name}$`), replacement: fileURLToPath(new URL(`./src/${file}`, import.meta.url)) }))

export default defineConfig({
  test: {
    // Two cores: race tests stay robust when files do not fight for them.
    maxWorkers: 2,
    projects: [
      {
        resolve: { alias },
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
