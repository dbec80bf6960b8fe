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
          testTimeout: 20_000,
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: 'tsconfig.json' },
        },
      },
      ...(existsSync('demo-server/vitest.config.ts') ? ['demo-server'] : []),
    ],
  },
})
