import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    name: 'demo-server',
    include: ['test/**/*.test.ts'],
    testTimeout: 20000,
    // Hooks start real PostgreSQL clusters and server processes; on a loaded 2-core machine that takes a while.
    hookTimeout: 60000,
  },
})
