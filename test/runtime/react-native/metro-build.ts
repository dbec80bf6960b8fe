// Builds JavaScript the way Metro builds a React Native app for Hermes, so tests
// can run what an app would run:
// - resolution: the "react-native" condition first, then the defaults (Metro with
//   package exports on; its main fields, 'react-native' then 'browser' then 'main',
//   where a package has no exports). "silent-refresh" itself resolves as an app's
//   node_modules/silent-refresh would: through package.json's exports to the built
//   files (dist/react-native/, so `npm run build` first), not through tsconfig.json's
//   "paths" to src/, which Metro does not read;
// - transform: every module, the app's and node_modules' alike, through
//   @react-native/babel-preset with the 'hermes-stable' profile, which is what Metro
//   passes when Hermes is on (classes, async functions, class fields, named groups
//   lowered; Flow and TypeScript stripped). Babel helpers are inlined instead of
//   imported from @babel/runtime (enableBabelRuntime: false): the same code, no
//   @babel/runtime to install.
// esbuild stands in for Metro's resolver and serializer only: it finds the same
// files and concatenates them, and lowers no syntax itself (target esnext). Its
// module glue (__toESM, __copyProps…) is not Metro's ES5 require runtime: it has
// `let` in loops whose closures Hermes 0.12 would share (every re-exported getter
// returned the last name), so for Hermes the whole bundle goes through the preset
// once more, which lowers that glue as it lowers the modules.
// The SDK's TypeScript is first made into the JavaScript the package ships
// (esbuild, es2022, as rollup.config.js), so it reaches the preset as dist/ would.
// React Native's own files are kept verbatim as test/runtime/react-native/<version>/*.js.flow
// (see the README there); `import NativeBlobModule` in them gets null, as in RN's
// jest setup: no native Blob module, which only URL.createObjectURL needs.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, transform, type Plugin } from 'esbuild'

/** The part of @babel/core used here (it ships no types; @types/babel__core is not worth a dependency for one call). */
interface Babel {
  transformAsync(code: string, options: Record<string, unknown>): Promise<{ code?: string | null } | null>
}

const require = createRequire(import.meta.url)
const babel = require('@babel/core') as Babel
const preset = require.resolve('@react-native/babel-preset')

export const root = fileURLToPath(new URL('../../../', import.meta.url))
export const vendored = fileURLToPath(new URL('./', import.meta.url))

/** What Metro's transformer passes to the preset for a release build with Hermes on. */
const presetOptions = { unstable_transformProfile: 'hermes-stable', disableImportExportTransform: true, enableBabelRuntime: false, dev: false }

/** One module through the React Native preset, as Metro's transformer does. */
async function metroTransform(code: string, filename: string, sourceType = 'unambiguous'): Promise<string> {
  const result = await babel.transformAsync(code, {
    filename,
    babelrc: false,
    configFile: false,
    sourceType,
    caller: { name: 'metro', bundler: 'metro', platform: 'ios' },
    presets: [[preset, presetOptions]],
  })
  if (!result?.code) throw new Error(`metro-build: the preset gave nothing for ${filename}`)
  return result.code
}

const metro: Plugin = {
  name: 'metro-transform',
  setup(build) {
    build.onResolve({ filter: /\/NativeBlobModule$/ }, () => ({ path: 'NativeBlobModule', namespace: 'rn-native-module' }))
    build.onLoad({ filter: /.*/, namespace: 'rn-native-module' }, () => ({ contents: 'export default null', loader: 'js' }))
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      // Relative imports inside a vendored React Native file name its siblings without ".js.flow".
      if (args.importer.endsWith('.js.flow')) return { path: join(dirname(args.importer), `${args.path}.js.flow`) }
      // The test's own modules run for their effects (the host installs globals), whatever
      // package.json's "sideEffects": false says about the package's modules.
      const path = resolve(args.resolveDir, args.path)
      if (!path.startsWith(join(root, 'test/'))) return undefined
      const file = [path, path.replace(/\.js$/, '.ts')].find((candidate) => existsSync(candidate))
      return file ? { path: file, sideEffects: true } : undefined
    })
    build.onLoad({ filter: /\.(?:[cm]?js|ts|js\.flow)$/ }, async (args) => {
      let code = await readFile(args.path, 'utf8')
      let filename = args.path.replace(/\.flow$/, '')
      if (filename.endsWith('.ts')) {
        code = (await transform(code, { loader: 'ts', target: 'es2022', format: 'esm', sourcefile: args.path })).code
        filename = filename.replace(/\.ts$/, '.js')
      }
      return { contents: await metroTransform(code, filename), loader: 'js', resolveDir: dirname(args.path) }
    })
  },
}

/**
 * Bundles `entry` (module source, resolved from the repository root) for Hermes.
 * `format: 'iife'` for a script Hermes runs; `'cjs'` to evaluate in Node.
 */
export async function buildForReactNative(entry: string, format: 'iife' | 'cjs' = 'iife'): Promise<string> {
  return (await bundleForReactNative(entry, format)).code
}

/** {@link buildForReactNative}, and the files (relative to the repository root) that went into the bundle. */
export async function bundleForReactNative(entry: string, format: 'iife' | 'cjs' = 'iife'): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    stdin: { contents: entry, resolveDir: root, sourcefile: 'entry.js', loader: 'js' },
    bundle: true,
    write: false,
    format,
    platform: 'neutral',
    mainFields: ['react-native', 'browser', 'module', 'main'],
    conditions: ['react-native'],
    target: 'esnext',
    // Metro reads no tsconfig.json: the package resolves by its exports, not by "paths".
    tsconfigRaw: '{}',
    plugins: [metro],
    metafile: true,
    logLevel: 'silent',
  })
  const bundle = result.outputFiles[0]!.text
  const inputs = Object.keys(result.metafile.inputs)
  return { code: format === 'iife' ? await metroTransform(bundle, 'bundle.js', 'script') : bundle, inputs }
}

/** The React Native versions whose files are kept in test/runtime/react-native/. */
export type ReactNativeVersion = '0.73.11' | '0.88.1'

/**
 * React Native's own `URL` and `URLSearchParams` (Libraries/Blob/URL.js of that
 * version), built by the preset and loaded into this process, for unit tests.
 */
export async function reactNativeUrl(version: ReactNativeVersion): Promise<{ URL: typeof URL; URLSearchParams: typeof URLSearchParams }> {
  const code = await buildForReactNative(`export { URL, URLSearchParams } from ${JSON.stringify(join(vendored, version, 'URL.js.flow'))}`, 'cjs')
  const module = { exports: {} as { URL: typeof URL; URLSearchParams: typeof URLSearchParams } }
  new Function('module', 'exports', code)(module, module.exports)
  return module.exports
}
