// The size the README states is the size of the README's own example: the
// block tagged `size` (the browser set-up), bundled by esbuild as an app's
// bundler would (minified, ESM, for the browser), axios left out, gzipped.
//
//   npx tsx scripts/readme-size.ts           prints what the README states and what it measures
//   npx tsx scripts/readme-size.ts --write   writes the measured size into the README
//
// Here 'silent-refresh' is the built dist/ (run `npm run build` first); the
// package test (test/package/docs.test.ts) measures the same block from the
// packed tarball installed in a fresh project, and fails when the README
// states another size.
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Plugin } from 'esbuild'
import { extractSnippets } from '../test/package/snippets.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** Where the README states the size: `<!-- size -->5.8 kB<!-- /size -->`, invisible once rendered. */
const CLAIM = /<!-- size -->([\d.]+) kB<!-- \/size -->/

/** The code of the README's `size` block; there must be exactly one. */
export function sizeBlock(readme: string): string {
  const blocks = extractSnippets(readme, 'README.md').filter((snippet) => snippet.size)
  if (blocks.length !== 1) throw new Error(`README.md must have exactly one block tagged "size"; it has ${blocks.length}`)
  return blocks[0]!.code
}

/** The size the README states, in kB as written. */
export function statedSize(readme: string): string {
  const match = CLAIM.exec(readme)
  if (!match) throw new Error('README.md states no size: expected <!-- size -->N kB<!-- /size -->')
  return match[1]!
}

/** How a size is written in the README: kB (1,000 bytes) with one decimal, as `npm run size` rounds. */
export const formatSize = (bytes: number): string => (bytes / 1000).toFixed(1)

/**
 * Min+gz bytes of `code` bundled for the browser, axios external. Bare imports
 * resolve from `resolveDir` (a project with the package installed), or, with
 * `fromDist`, 'silent-refresh' and its subpaths resolve to this repository's dist/.
 */
export async function measure(code: string, options: { resolveDir: string; fromDist?: boolean }): Promise<number> {
  const plugins: Plugin[] = options.fromDist ? [distPlugin()] : []
  const result = await build({
    stdin: { contents: code, loader: 'ts', resolveDir: options.resolveDir, sourcefile: 'readme-size-block.ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['axios'],
    write: false,
    logLevel: 'silent',
    plugins,
  })
  return gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length
}

/** 'silent-refresh[/entry]' → the ESM file its exports map names, in dist/. */
function distPlugin(): Plugin {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { import?: { default?: string } }> }
  return {
    name: 'silent-refresh-from-dist',
    setup(builder) {
      builder.onResolve({ filter: /^silent-refresh(\/.*)?$/ }, (args) => {
        const target = pkg.exports[args.path.replace(/^silent-refresh/, '.')]?.import?.default
        return target ? { path: resolve(ROOT, target) } : { errors: [{ text: `no "${args.path}" in the exports map` }] }
      })
    },
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = resolve(ROOT, 'README.md')
  const readme = readFileSync(file, 'utf8')
  const measured = formatSize(await measure(sizeBlock(readme), { resolveDir: ROOT, fromDist: true }))
  const stated = statedSize(readme)
  console.log(`README states ${stated} kB; its size block measures ${measured} kB min+gz (axios not included)`)
  if (process.argv.includes('--write') && stated !== measured) {
    writeFileSync(file, readme.replace(CLAIM, `<!-- size -->${measured} kB<!-- /size -->`))
    console.log('README.md updated')
  }
}
