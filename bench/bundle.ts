/**
 * Bundle: min+gz of what a user imports, built with esbuild (minify, tree
 * shaking, ESM for the browser, axios external) and gzipped with zlib level 9,
 * as size-limit does. silent-refresh is measured from dist/ (npm run build).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { bytes, num, table } from './lib/report.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = (file: string) => JSON.stringify(`${root}dist/${file}`)
if (!existsSync(`${root}dist/index.js`)) throw new Error('dist/ is missing: run npm run build first (npm run bench does)')

/** Issue 10's gate for core + axios adapter, and its aim. */
const TARGET = 4_000
const CEILING = 4_500

/** Names imported from each module; `*` for the whole module. */
type Imports = [from: string, names: string[] | '*'][]

/**
 * Minified and gzipped size of an app module that imports `imports` and uses them
 * (as size-limit's entry does), bundled as ESM for the browser: what an app's
 * bundler ships, without the IIFE/require shim size-limit adds around external axios.
 */
async function size(imports: Imports): Promise<{ min: number; gz: number; inputs: Record<string, number> }> {
  const lines = imports.map(([from, names], i) =>
    names === '*' ? `import * as m${i} from ${from}; console.log(m${i})` : `import { ${names.join(', ')} } from ${from}; console.log(${names.join(', ')})`,
  )
  const result = await build({
    stdin: { contents: lines.join('\n'), resolveDir: root, loader: 'js' },
    bundle: true,
    write: false,
    minify: true,
    treeShaking: true,
    format: 'esm',
    platform: 'browser',
    external: ['axios'],
    logLevel: 'silent',
    metafile: true,
    sourcemap: 'external',
    outdir: 'out',
  })
  const output = result.outputFiles.find((file) => file.path.endsWith('.js'))!.contents
  const inputs = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'))?.[1].inputs ?? {}
  return {
    min: output.byteLength,
    gz: gzipSync(output, { level: 9 }).byteLength,
    inputs: Object.fromEntries(Object.entries(inputs).map(([file, { bytesInOutput }]) => [file, bytesInOutput])),
  }
}

const cases: [string, Imports][] = [
  ['silent-refresh: core (createTokenManager, refreshTokenGrant)', [[dist('index.js'), ['createTokenManager', 'refreshTokenGrant']]]],
  ['silent-refresh: core + axios adapter (createTokenManager, attachAxios)', [[dist('index.js'), ['createTokenManager']], [dist('axios.js'), ['attachAxios']]]],
  ['silent-refresh: core + fetch adapter (createTokenManager, createAuthFetch)', [[dist('index.js'), ['createTokenManager']], [dist('fetch.js'), ['createAuthFetch']]]],
  [
    'silent-refresh: React Native build, core + axios (dist/react-native/: the "react-native" condition, with the origin parser)',
    [[dist('react-native/index.js'), ['createTokenManager']], [dist('react-native/axios.js'), ['attachAxios']]],
  ],
  [
    'silent-refresh: a typical axios app (+ refreshTokenGrant, webStorage)',
    [[dist('index.js'), ['createTokenManager', 'refreshTokenGrant', 'webStorage']], [dist('axios.js'), ['attachAxios']]],
  ],
  ['silent-refresh: whole "silent-refresh" entry', [[dist('index.js'), '*']]],
  ['silent-refresh: whole "silent-refresh/axios" entry', [[dist('axios.js'), '*']]],
  ['silent-refresh: whole "silent-refresh/fetch" entry', [[dist('fetch.js'), '*']]],
  ['axios-auth-refresh 5.0.2 (createAuthRefresh)', [["'axios-auth-refresh'", ['createAuthRefresh']]]],
  ['axios-jwt 4.0.3 (applyAuthTokenInterceptor, setAuthTokens, clearAuthTokens)', [["'axios-jwt'", ['applyAuthTokenInterceptor', 'setAuthTokens', 'clearAuthTokens']]]],
]

/** The same imports as budgeted in .size-limit.json, by row: size-limit's own figure, side by side. */
const sizeLimitNames: Record<string, string> = {
  'silent-refresh: core (createTokenManager, refreshTokenGrant)': 'core',
  'silent-refresh: core + axios adapter (createTokenManager, attachAxios)': 'core + axios adapter',
  'silent-refresh: core + fetch adapter (createTokenManager, createAuthFetch)': 'core + fetch adapter',
  'silent-refresh: React Native build, core + axios (dist/react-native/: the "react-native" condition, with the origin parser)':
    'core + axios adapter, React Native build (the "react-native" condition: dist/react-native/, with the origin parser)',
  'silent-refresh: whole "silent-refresh" entry': 'whole "silent-refresh" entry',
  'silent-refresh: whole "silent-refresh/axios" entry': '"silent-refresh/axios"',
  'silent-refresh: whole "silent-refresh/fetch" entry': '"silent-refresh/fetch"',
}
let sizeLimit: { name: string; size: number }[] = []
try {
  sizeLimit = JSON.parse(execFileSync('npx', ['size-limit', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
} catch (error) {
  // Over budget, size-limit exits 1 but still prints the JSON.
  const stdout = (error as { stdout?: string }).stdout
  if (stdout) sizeLimit = JSON.parse(stdout)
}
const limitSize = (name: string) => sizeLimit.find((entry) => entry.name === sizeLimitNames[name])?.size

const rows: string[][] = []
let coreAxios = 0
let coreAxiosInputs: Record<string, number> = {}
for (const [name, imports] of cases) {
  const { min, gz, inputs } = await size(imports)
  if (name.includes('core + axios adapter')) {
    coreAxios = gz
    coreAxiosInputs = inputs
  }
  const official = limitSize(name)
  rows.push([name, bytes(min), bytes(gz), official === undefined ? '—' : bytes(official)])
}
const coreLimit = limitSize('silent-refresh: core + axios adapter (createTokenManager, attachAxios)')
const verdict = (gz: number) =>
  gz <= TARGET ? 'target met' : gz <= CEILING ? `${bytes(gz - TARGET)} over the target, under the ceiling` : `${bytes(gz - TARGET)} over the target and ${bytes(gz - CEILING)} over the ceiling`
table('Bundle size: what a user imports, esbuild ESM minified + gzip -9, axios external', ['import', 'min', 'min+gz', 'npm run size (size-limit)'], rows, [
  `Target for core + axios adapter: ≤ ${num(TARGET)} B min+gz, never above ${num(CEILING)} B. Here ${bytes(coreAxios)}` +
    `${coreLimit === undefined ? '' : ` (size-limit: ${bytes(coreLimit)})`}: ${verdict(coreAxios)}.`,
  'One ESM bundle of an app module that imports and uses the names; size-limit wraps the same imports in an IIFE and measures',
  'them its own way, hence the small difference in its column (its budgets in .size-limit.json are checked in CI).',
  'silent-refresh has no runtime dependency; axios-jwt\'s sizes include jwt-decode 3 and ms.',
  'axios-auth-refresh does not attach tokens, store them or read expiry: the app writes that part itself.',
  'The React Native build is what Metro resolves (the "react-native" export condition): the same code plus the origin parser',
  "React Native's own URL needs; every other bundler gets dist/, without it.",
])

// Where the bytes of core + axios go, by source file: the same imports bundled from src/ (dist/ is
// one file per entry), minified alike. What a budget buys.
const fromSource = await size([
  [JSON.stringify(`${root}src/index.ts`), ['createTokenManager']],
  [JSON.stringify(`${root}src/adapters/axios.ts`), ['attachAxios']],
])
const bySource = new Map(Object.entries(fromSource.inputs).map(([file, n]) => [file.replace(/^.*?(src\/)/, '$1'), n] as const))
void coreAxiosInputs
const totalMin = [...bySource.values()].reduce((a, b) => a + b, 0)
table(
  'Where the bytes of core + axios adapter go (minified, before gzip; gzip shrinks every file about alike)',
  ['file', 'min', 'share'],
  [...bySource].sort((a, b) => b[1] - a[1]).map(([file, n]) => [file, bytes(n), `${((100 * n) / totalMin).toFixed(1)} %`]),
  ['From the esbuild metafile of the core + axios bundle above. src/core/manager.ts is the state machine itself; options.ts validates every option.'],
)
