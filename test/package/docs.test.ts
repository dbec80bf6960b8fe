// The package a user installs, and the docs a user copies from, tried as a
// user would: `npm pack`, the tarball installed into a fresh project (with
// axios, msw, vitest and vite from the npm cache), then every ts/js block of
// README.md and docs/*.md written there unchanged and
//   - type-checked with TypeScript 6 (bundler, node16) and 5.9 (node =
//     node10), complete programs and fragments in programs of their own
//     (fragments with test/package/fixtures/fragment-context.d.ts);
//   - compiled by tsc (node16) and run with Node: ESM blocks as ESM, CommonJS
//     blocks as CommonJS, against the demo server (buildApp, SQLite) on a free
//     port;
//   - the docs' vitest files run with the project's own vitest;
//   - the README's browser set-up run in Chromium, two tabs, through the
//     README's vite.config.ts proxy, against the same rotating demo server;
//   - the README's size claim measured on its own example;
//   - bundlers resolve the right build: the "react-native" condition (Metro)
//     gets the origin parser, a browser bundle does not.
// The one change made to a block: the demo server's origin in it,
// http://localhost:3000, becomes the test server's. The conventions are in
// CONTRIBUTING.md ("Docs that run").
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import buildIfStale from '../e2e/global-setup.js'
import { chromiumPath, launchBrowser, startDemoServer, type DemoServer } from '../e2e/harness.js'
import { formatSize, measure, sizeBlock, statedSize } from '../../scripts/readme-size.js'
import { docSlug, extractSnippets, snippetPath, type Snippet } from './snippets.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
/** The demo server's address as the docs write it; replaced by the test server's. */
const DEMO_ORIGIN = 'http://localhost:3000'
/** The TypeScript 5 that a project on moduleResolution "node" (node10) has; TypeScript 6 deprecates node10. */
const TYPESCRIPT_5 = 'typescript@5.9.3'

const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const snippets: Snippet[] = DOCS.flatMap((doc) => extractSnippets(readFileSync(join(ROOT, doc), 'utf8'), doc))
const complete = snippets.filter((s) => s.kind === 'run' || s.kind === 'browser')
const fragments = snippets.filter((s) => s.kind === 'fragment')
const isTest = (s: Snippet) => /\.test\.[jt]s$/.test(snippetPath(s))
/** Code for vitest or vite (tests, their set-up files, a Vite config): run by those tools, not by node. */
const forTools = (s: Snippet) => isTest(s) || /from '(vitest|vite)'/.test(s.code)
/** Complete programs for Node: compiled and run with node. */
const nodePrograms = snippets.filter((s) => s.kind === 'run' && !forTools(s))
const where = (s: Snippet) => `${s.doc}:${s.line}`
/** Where a snippet is written in the project: one folder per markdown file. */
const pathOf = (s: Snippet) => join(docSlug(s.doc), snippetPath(s))

// The child processes are tools run for the user's project: no Vitest variables, no inherited loaders.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(VITEST|TEST$|NODE_OPTIONS$|NODE_ENV$)/.test(key)))

interface Ran {
  code: number | null
  stdout: string
  /** stdout and stderr, for messages. */
  output: string
}

/** Runs a command to its end; never throws, so a failure shows its output. */
function run(command: string, args: string[], options: { cwd: string; timeoutMs: number }): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env, timeout: options.timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
      resolve({ code, stdout, output: `${stdout}${stderr}`.trim() })
    })
  })
}

const versionOf = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version

let work: string
let project: string
let server: DemoServer

beforeAll(async () => {
  buildIfStale()
  work = mkdtempSync(join(tmpdir(), 'silent-refresh-docs-'))
  project = join(work, 'app')
  mkdirSync(project)

  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, timeoutMs: 60_000 })
  expect(packed.code, packed.output).toBe(0)
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]

  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'docs-app', private: true, type: 'module' }, null, 2))
  // The versions this repository tests with, so the npm cache has them; vite is vitest's own. Beside them,
  // every package a block imports that this repository installs (ky, @tanstack/react-query, …: docs/integrations/).
  const imported = snippets.flatMap((s) => [...s.code.matchAll(/(?:from |import\()'((?:@[\w.-]+\/)?[\w.-]+)/g)].map((m) => m[1]!))
  const clients = [...new Set(imported)].filter((name) => name !== 'silent-refresh' && existsSync(join(ROOT, 'node_modules', name, 'package.json')))
  // A client without types of its own (ws) brings its DefinitelyTyped package, as a user's project would.
  const typings = clients.map((name) => `@types/${name.replace(/^@([^/]+)\//, '$1__')}`).filter((name) => existsSync(join(ROOT, 'node_modules', name, 'package.json')))
  clients.push(...typings)
  const peers = [...new Set(['axios', 'msw', 'vitest', 'vite', '@types/node', ...clients])].map((name) => `${name}@${versionOf(name)}`)
  const installed = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', join(work, filename), TYPESCRIPT_5, ...peers],
    { cwd: project, timeoutMs: 180_000 },
  )
  expect(installed.code, installed.output).toBe(0)

  server = await startDemoServer({ accessTokenTtl: 30 })
  for (const snippet of snippets) {
    if (snippet.kind === 'outline') continue
    const file = join(project, pathOf(snippet))
    mkdirSync(dirname(file), { recursive: true })
    // A fragment without import or export would be a script, and its names would clash with the other fragments'.
    const code = snippet.kind === 'fragment' ? `${snippet.code}\nexport {}\n` : snippet.code
    writeFileSync(file, code.replaceAll(DEMO_ORIGIN, server.url))
  }
  cpSync(join(FIXTURES, 'fragment-context.d.ts'), join(project, 'fragment-context.d.ts'))
  writeTsconfigs()

  // Compiled once for the Node runs (TypeScript 5, node16: what Node itself resolves); type errors are the type-check tests' business.
  const emitted = await run(process.execPath, [tsc5(), '-p', 'tsconfig.emit.json'], { cwd: project, timeoutMs: 120_000 })
  expect(emitted.code === 0 || emitted.code === 2, emitted.output).toBe(true)
}, 300_000)

afterAll(async () => {
  await server?.close()
  // KEEP_DOCS_PROJECT=1 leaves the project in place to look into (its path is printed).
  if (work && process.env.KEEP_DOCS_PROJECT) console.log(`docs test project kept in ${project}`)
  else if (work) rmSync(work, { recursive: true, force: true })
}, 60_000) // removing the project's node_modules (the clients of docs/integrations/ too) outlasts 10 s on a loaded machine

const tsc5 = () => join(project, 'node_modules/typescript/bin/tsc')
const tsc6 = () => join(ROOT, 'node_modules/typescript/bin/tsc')

interface Mode {
  typescript: '5' | '6'
  module: string
  moduleResolution: string
}

/**
 * Each resolution once, with the TypeScript its users have: node10 is deprecated in 6, so it is
 * checked with 5.9, which also parses every declaration file (the .d.cts ones, the same text as
 * the .d.ts). The compile for the Node runs is a TypeScript 5 node16 program too.
 */
const MODES: Mode[] = [
  { typescript: '6', module: 'esnext', moduleResolution: 'bundler' },
  { typescript: '6', module: 'node16', moduleResolution: 'node16' },
  { typescript: '5', module: 'esnext', moduleResolution: 'node' },
]

const configName = (mode: Mode, program: 'complete' | 'fragments') => `tsconfig.ts${mode.typescript}-${mode.moduleResolution}-${program}.json`

function writeTsconfigs(): void {
  const base = {
    strict: true,
    target: 'es2022',
    lib: ['es2022', 'dom', 'dom.iterable'],
    types: ['node'],
    allowJs: true,
    checkJs: true,
    // Third-party declarations are not this test's business; the package's own are checked by attw and by use.
    skipLibCheck: true,
    noEmit: true,
  }
  const files = (list: Snippet[]) => list.map(pathOf)
  for (const mode of MODES) {
    // vite (and so vitest's config) resolves only through package exports: not for node10 projects.
    // node10 ignores `exports`: vite, and graphql-ws's server (`graphql-ws/use/ws`), resolve only through it.
    const forMode = (list: Snippet[]) => (mode.moduleResolution === 'node' ? list.filter((s) => !/from '(vite|graphql-ws\/use\/)/.test(s.code)) : list)
    const compilerOptions = { ...base, module: mode.module, moduleResolution: mode.moduleResolution }
    write(configName(mode, 'complete'), { compilerOptions, files: files(forMode(complete)) })
    write(configName(mode, 'fragments'), { compilerOptions, files: ['fragment-context.d.ts', ...files(forMode(fragments))] })
  }
  const emitOptions = { ...base, module: 'node16', moduleResolution: 'node16', noEmit: false, outDir: 'out', rootDir: '.' }
  write('tsconfig.emit.json', { compilerOptions: emitOptions, files: files(nodePrograms) })
}

function write(name: string, config: unknown): void {
  writeFileSync(join(project, name), JSON.stringify(config, null, 2))
}

describe('the docs follow the snippet convention', () => {
  it('every ts/js block has a kind, and the README has complete programs for Node, CommonJS and the browser', () => {
    // extractSnippets throws on an unknown word; here: there is something to run.
    const readme = snippets.filter((s) => s.doc === 'README.md')
    expect(readme.filter((s) => s.kind === 'run' && s.lang === 'ts').length).toBeGreaterThanOrEqual(2)
    expect(readme.filter((s) => s.commonjs)).toHaveLength(1)
    expect(readme.filter((s) => s.kind === 'browser' && s.file === 'src/auth.ts')).toHaveLength(1)
    expect(snippets.filter((s) => s.doc === 'docs/testing.md' && isTest(s)).length).toBeGreaterThanOrEqual(2)
  })
})

describe('the packed package in a fresh project', () => {
  it('ships LICENSE, README and CHANGELOG, and maps whose every source is in the package', () => {
    const pkg = join(project, 'node_modules/silent-refresh')
    for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']) expect(existsSync(join(pkg, file)), file).toBe(true)
    const files = readdirSync(join(pkg, 'dist'), { recursive: true, encoding: 'utf8' })
    const maps = files.filter((f) => f.endsWith('.map'))
    // Every JavaScript and declaration file has its map: .js/.cjs source maps, .d.ts/.d.cts declaration maps.
    expect(maps.sort()).toEqual(files.filter((f) => /\.(c?js|d\.c?ts)$/.test(f)).map((f) => `${f}.map`).sort())
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(pkg, 'dist', map), 'utf8')) as { sources: string[] }
      expect(sources.length, map).toBeGreaterThan(0)
      for (const source of sources) expect(existsSync(join(pkg, 'dist', dirname(map), source)), `${map} → ${source}`).toBe(true)
    }
  })

  it.each(MODES.flatMap((mode) => (['complete', 'fragments'] as const).map((program) => ({ ...mode, program }))))(
    'type-checks the $program blocks with TypeScript $typescript, moduleResolution $moduleResolution',
    async (mode) => {
      const tsc = mode.typescript === '5' ? tsc5() : tsc6()
      const checked = await run(process.execPath, [tsc, '-p', configName(mode, mode.program)], { cwd: project, timeoutMs: 120_000 })
      expect(checked.output).toBe('')
      expect(checked.code).toBe(0)
    },
    120_000,
  )

  it.each(nodePrograms.map((s) => [where(s), s] as const))('%s runs with Node against the demo server', async (_, snippet) => {
    const compiled = join('out', pathOf(snippet).replace(/\.ts$/, '.js'))
    const ran = await run(process.execPath, [compiled], { cwd: project, timeoutMs: 30_000 })
    expect(ran.code, `${where(snippet)} (${compiled}):\n${ran.output}`).toBe(0)
  })

  it("runs the docs' vitest files with the project's vitest", async () => {
    const roots = [...new Set(snippets.filter(isTest).map((s) => docSlug(s.doc)))]
    for (const root of roots) {
      const vitest = join(project, 'node_modules/vitest/vitest.mjs')
      const ran = await run(process.execPath, [vitest, 'run', '--root', root, '--reporter', 'dot'], { cwd: project, timeoutMs: 120_000 })
      expect(ran.code, ran.output).toBe(0)
      expect(ran.output).not.toMatch(/no test files found/i)
    }
  }, 150_000)

  it("the README states the size of its own example, bundled from the installed package", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const bytes = await measure(sizeBlock(readme), { resolveDir: project })
    // A different size means the README is out of date: `npx tsx scripts/readme-size.ts --write`.
    expect(`${statedSize(readme)} kB`).toBe(`${formatSize(bytes)} kB`)
  })
})

describe('the packed package in a bundler', () => {
  // Every entry that judges origins, and what they import, bundled from the installed package.
  const entry = `
    export { attachAxios } from 'silent-refresh/axios'
    export { createAuthFetch } from 'silent-refresh/fetch'
    export { createAuthBaseQuery } from 'silent-refresh/rtk-query'
    export { createAuthLink } from 'silent-refresh/apollo'
    export { createAuthConfig } from 'silent-refresh/urql'
  `
  const bundle = async (options: { platform: 'browser' | 'node' | 'neutral'; conditions?: string[]; mainFields?: string[] }) => {
    const result = await build({
      stdin: { contents: entry, resolveDir: project, sourcefile: 'entry.js', loader: 'js' },
      bundle: true,
      write: false,
      format: 'esm',
      metafile: true,
      external: ['axios', '@reduxjs/toolkit', '@reduxjs/toolkit/*', '@apollo/client', '@apollo/client/*', '@urql/core', '@urql/exchange-auth'],
      logLevel: 'silent',
      ...options,
    })
    const files = Object.keys(result.metafile.inputs).filter((file) => file.includes('silent-refresh/'))
    return { code: result.outputFiles[0]!.text, files }
  }
  /** Only the origin parser (src/adapters/internal/origin-parser.ts) has these; only the default build's fallback names the polyfill. */
  const PARSER = 'function parseOrigin('
  const POLYFILL = 'react-native-url-polyfill'

  it('with the "react-native" condition first (Metro with package exports): dist/react-native/, with the origin parser', async () => {
    // Metro's main fields where a package has no exports, and the conditions React Native asserts.
    const { code, files } = await bundle({ platform: 'neutral', conditions: ['react-native', 'require', 'import'], mainFields: ['react-native', 'browser', 'main'] })
    expect(files.length).toBeGreaterThan(5)
    expect(files.filter((file) => !file.includes('silent-refresh/dist/react-native/'))).toEqual([])
    expect(code).toContain(PARSER)
    expect(code).not.toContain(POLYFILL)
  })

  it.each(['browser', 'node'] as const)('for %s: dist/, without the origin parser, its fallback naming the fix', async (platform) => {
    const { code, files } = await bundle({ platform })
    expect(files.length).toBeGreaterThan(5)
    expect(files.filter((file) => file.includes('/react-native/'))).toEqual([])
    expect(code).not.toContain(PARSER)
    expect(code).toContain(POLYFILL)
  })
})

interface AuthModule {
  manager: { getAccessToken(): Promise<string | null>; clear(): Promise<void> }
  api: { get(url: string): Promise<{ status: number }> }
  signIn(username: string, password: string): Promise<void>
  resumeSession(): Promise<'signed-in' | 'signed-out' | 'offline'>
}
declare const window: { auth: AuthModule; location: Location }

describe.skipIf(!chromiumPath)("the README's browser set-up in Chromium: two tabs, a rotating server, the README's Vite proxy", () => {
  let vite: ChildProcess | undefined
  let browser: Browser
  let url: string

  beforeAll(async () => {
    const root = join(project, docSlug('README.md'))
    cpSync(join(FIXTURES, 'index.html'), join(root, 'index.html'))
    cpSync(join(FIXTURES, 'browser-main.ts'), join(root, 'browser-main.ts'))
    vite = spawn(process.execPath, [join(FIXTURES, 'vite-server.mjs'), project, root], { cwd: project, env, stdio: ['ignore', 'pipe', 'inherit'] })
    ;[url, browser] = await Promise.all([
      new Promise<string>((resolve, reject) => {
        let out = ''
        vite!.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          const line = out.split('\n').find((l) => l.startsWith('{'))
          if (line) resolve((JSON.parse(line) as { url: string }).url)
        })
        vite!.on('exit', (code) => reject(new Error(`vite exited with ${code}: ${out}`)))
      }),
      launchBrowser(),
    ])
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    vite?.kill('SIGTERM')
  })

  const ready = async (page: Page) => {
    await page.goto(url)
    await page.waitForFunction(() => 'auth' in window, undefined, { timeout: 30_000 })
  }
  const resume = (page: Page) => page.evaluate(() => window.auth.resumeSession())
  const burst = (page: Page, n: number) =>
    page.evaluate(async (n) => {
      const results = await Promise.allSettled(Array.from({ length: n }, () => window.auth.api.get('/api/me')))
      return results.map((r) => (r.status === 'fulfilled' ? r.value.status : String((r.reason as Error).message)))
    }, n)

  it('signs in, resumes after a reload and in a new tab, makes one refresh for both tabs, and signs both out', async () => {
    const context = await browser.newContext()
    const [a, b] = [await context.newPage(), await context.newPage()]
    await ready(a)
    expect(await resume(a)).toBe('signed-out')
    await a.evaluate(() => window.auth.signIn('demo', 'demo'))
    expect(await resume(a)).toBe('signed-in')

    // Start-up after a reload, and in a tab opened later: the session comes from localStorage.
    await a.reload()
    await a.waitForFunction(() => 'auth' in window)
    expect(await resume(a)).toBe('signed-in')
    await ready(b)
    expect(await resume(b)).toBe('signed-in')

    // The server expires the session's access tokens; both tabs meet 401s at once.
    const token = await a.evaluate(() => window.auth.manager.getAccessToken())
    const expired = await fetch(`${server.url}/demo/expire`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    expect(expired.status).toBe(204)
    const before = { ...server.stats }
    const statuses = await Promise.all([burst(a, 10), burst(b, 10)])
    expect(statuses.flat()).toEqual(Array(20).fill(200))
    // One rotation for both tabs, and no refresh token presented twice (which would have revoked the session).
    expect(server.stats.rotated - before.rotated).toBe(1)
    expect(server.stats.reused - before.reused).toBe(0)

    // A sign-out in one tab signs out the other.
    await a.evaluate(() => window.auth.manager.clear())
    await b.waitForFunction(async () => (await window.auth.manager.getAccessToken()) === null, undefined, { timeout: 5_000 })
    await context.close()
  }, 90_000)
})
