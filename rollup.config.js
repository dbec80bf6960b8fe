// ESM + CJS per entry, and types per entry (.d.ts for import, .d.cts for require).
// Every entry is built twice: dist/ for every runtime, dist/react-native/ (the
// "react-native" export condition, which Metro resolves) with the origin parser
// that React Native's own URL needs; the declarations are shared.
// The adapters' types import the core's from "silent-refresh" itself, so one
// TokenManager type serves every entry.
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import esbuild from 'rollup-plugin-esbuild'
import { dts } from 'rollup-plugin-dts'

// Start from an empty dist/: chunk names carry a hash, so a chunk of an earlier build would stay and be packed.
rmSync(fileURLToPath(new URL('./dist/', import.meta.url)), { recursive: true, force: true })

const input = {
  index: 'src/index.ts',
  axios: 'src/adapters/axios.ts',
  fetch: 'src/adapters/fetch.ts',
  testing: 'src/testing/index.ts',
  'cross-tab': 'src/cross-tab/index.ts',
  react: 'src/integrations/react/index.ts',
  'react-native': 'src/integrations/react-native/index.ts',
  'rtk-query': 'src/integrations/rtk-query/index.ts',
  apollo: 'src/integrations/apollo/index.ts',
  urql: 'src/integrations/urql/index.ts',
  'graphql-ws': 'src/integrations/graphql-ws/index.ts',
  dpop: 'src/dpop/index.ts',
}
const external = [
  'axios',
  'msw',
  'msw/node',
  'msw/browser',
  'react',
  '@reduxjs/toolkit/query',
  '@apollo/client/core',
  '@urql/core',
  '@urql/exchange-auth',
  'graphql-ws',
]
/** React Server Components load "silent-refresh/react" on the client side only (rollup drops module-level directives). */
const banner = (chunk) => (chunk.isEntry && chunk.name === 'react' ? "'use client';" : '')
const core = fileURLToPath(new URL('./src/core/', import.meta.url))
const isCore = (id) => id.startsWith(core)

/** Resolves the adapters' imports of core types to the package's own name. */
const selfReference = {
  name: 'self-reference',
  resolveId(id, importer) {
    if (importer && id.startsWith('.') && isCore(fileURLToPath(new URL(id, `file://${importer}`)))) {
      return { id: 'silent-refresh', external: true }
    }
    return null
  },
}

/**
 * The React Native build: ./origin-fallback.ts (a TypeError where the global URL
 * is not the WHATWG parser) becomes ./origin-fallback.react-native.ts (the parser).
 */
const fallback = fileURLToPath(new URL('./src/adapters/internal/origin-fallback.ts', import.meta.url))
const reactNativeOrigin = {
  name: 'react-native-origin',
  async resolveId(id, importer, options) {
    const resolved = await this.resolve(id, importer, { ...options, skipSelf: true })
    return resolved?.id === fallback ? fallback.replace(/\.ts$/, '.react-native.ts') : null
  },
}

/** ESM and CJS of every entry into `dir`. */
const javascript = (dir, plugins = []) => ({
  input,
  external,
  plugins: [...plugins, esbuild({ target: 'es2022', tsconfig: 'tsconfig.json' })],
  output: [
    { dir, format: 'es', entryFileNames: '[name].js', chunkFileNames: 'internal/[name]-[hash].js', banner, sourcemap: true, sourcemapExcludeSources: true },
    { dir, format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'internal/[name]-[hash].cjs', exports: 'named', banner, sourcemap: true, sourcemapExcludeSources: true },
  ],
})

export default [
  javascript('dist'),
  javascript('dist/react-native', [reactNativeOrigin]),
  ...['d.ts', 'd.cts'].flatMap((ext) => [
    { input: { index: input.index }, external, plugins: [dts({ sourcemap: true })], output: { dir: 'dist', entryFileNames: `[name].${ext}`, sourcemap: true } },
    {
      input: Object.fromEntries(Object.entries(input).filter(([name]) => name !== 'index')),
      external,
      plugins: [selfReference, dts({ sourcemap: true })],
      output: { dir: 'dist', entryFileNames: `[name].${ext}`, chunkFileNames: `internal/[name]-[hash].${ext}`, sourcemap: true },
    },
  ]),
]

