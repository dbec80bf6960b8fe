// The vitest config of scripts/node-matrix.sh: the adapter, grant and testing-kit
// tests, run against the built package on each Node version.
//
// A plain object, no "vitest/config" import: vitest 4 (Node >= 20) and vitest 3
// (Node 18, see node18/package.json) both load it. Environment:
//   MATRIX_VITEST  folder of another vitest package: the tests' `import … from 'vitest'` goes there
//   MATRIX_SETUP   a setup file (Node 18: node18/setup.ts)
//   MATRIX_MSW     folder of another msw package (msw 3): `msw` and `msw/node` go there, for the
//                  tests and for dist/testing.js alike
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** The public entries as the tests import them from src/, and the files the build made of them. */
const builtEntries = {
  'src/index.js': 'dist/index.js',
  'src/adapters/axios.js': 'dist/axios.js',
  'src/adapters/fetch.js': 'dist/fetch.js',
  'src/testing/index.js': 'dist/testing.js',
  'src/cross-tab/index.js': 'dist/cross-tab.js',
}

/**
 * Tests of the React Native build: in the main run they compose it from src/ (vi.mock swaps
 * the origin fallback, as rollup.config.js does); here they get what Metro resolves through
 * the "react-native" condition, dist/react-native/.
 */
const reactNativeBuildTests = new Set(['test/adapters/origin-react-native.test.ts'])

/**
 * Sends the tests' imports of a public entry to dist/, so what runs on each Node
 * is what npm ships (rollup's output, its target, its chunks). Internal modules a
 * unit test imports (src/adapters/internal/origin.js) stay source.
 */
const builtPackage = {
  name: 'silent-refresh:built-package',
  enforce: 'pre',
  resolveId(source, importer) {
    if (!importer || !source.startsWith('.')) return null
    const built = builtEntries[relative(root, resolve(dirname(importer), source)).split('\\').join('/')]
    if (!built) return null
    const reactNative = reactNativeBuildTests.has(relative(root, importer).split('\\').join('/'))
    return join(root, reactNative ? built.replace(/^dist\//, 'dist/react-native/') : built)
  },
}

/** `find` → the file another copy of a package exports for `subpath` (its "exports" map, default condition). */
function aliasesTo(name, dir, subpaths) {
  const exportsMap = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).exports
  return subpaths.map((subpath) => {
    const target = exportsMap[`.${subpath}`]
    const file = typeof target === 'string' ? target : (target.import ?? target.default)
    return { find: new RegExp(`^${name}${subpath}$`), replacement: join(dir, typeof file === 'string' ? file : file.default) }
  })
}

const alias = [
  ...(process.env.MATRIX_VITEST ? aliasesTo('vitest', process.env.MATRIX_VITEST, ['']) : []),
  ...(process.env.MATRIX_MSW ? aliasesTo('msw', process.env.MATRIX_MSW, ['', '/node']) : []),
]

export default {
  root,
  plugins: [builtPackage],
  resolve: { alias },
  test: {
    include: (process.env.MATRIX_TESTS ?? 'test/adapters/**/*.test.ts,test/grants/**/*.test.ts,test/testing/**/*.test.ts').split(','),
    // examples.test.ts starts vitest 4 with the default config: it belongs to the main run.
    exclude: ['test/testing/examples.test.ts', '**/node_modules/**'],
    setupFiles: process.env.MATRIX_SETUP ? [process.env.MATRIX_SETUP] : [],
    maxWorkers: 2,
    testTimeout: 20_000,
  },
}
