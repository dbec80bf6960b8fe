// Only for running this example inside the silent-refresh repository, where the
// package is its own source. In your project, `silent-refresh` comes from
// node_modules and your usual vitest config is enough.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(`../../src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^silent-refresh$/, replacement: src('index.ts') },
      { find: /^silent-refresh\/fetch$/, replacement: src('adapters/fetch.ts') },
      { find: /^silent-refresh\/axios$/, replacement: src('adapters/axios.ts') },
      { find: /^silent-refresh\/testing$/, replacement: src('testing/index.ts') },
    ],
  },
  test: { root: fileURLToPath(new URL('.', import.meta.url)), include: ['*.test.ts'] },
})
