// "silent-refresh/react" in real Chromium: examples/react (StrictMode, React's
// development build) bundled by esbuild, served at the demo server's origin
// (playwright answers the page's two files; every API call reaches the real
// server), driven as a user would: sign in, a burst after expiry, the end of
// the session.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumPath, launchBrowser, startDemoServer, type DemoServer } from './harness.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const src = (file: string) => `${root}src/${file}`

/** The example as an app's bundler would build it, with the package's names mapped to its source. */
async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [`${root}examples/react/main.tsx`],
    bundle: true,
    write: false,
    format: 'esm',
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"development"' },
    alias: {
      'silent-refresh': src('index.ts'),
      'silent-refresh/fetch': src('adapters/fetch.ts'),
      'silent-refresh/react': src('integrations/react/index.ts'),
    },
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.text
}

interface StoredSession {
  accessToken: string
}
declare const localStorage: Storage

describe.skipIf(!chromiumPath)('examples/react in Chromium', () => {
  let server: DemoServer
  let browser: Browser
  let script: string

  beforeAll(async () => {
    ;[server, browser, script] = await Promise.all([startDemoServer({ accessTokenTtl: 60 }), launchBrowser(), bundle()])
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  async function open(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('console', (message) => {
      // The 401s and the refused refresh are the browser's network log, expected here; anything else (React's warnings) is not.
      if ((message.type() === 'error' || message.type() === 'warning') && !message.text().startsWith('Failed to load resource')) {
        errors.push(message.text())
      }
    })
    page.on('pageerror', (error) => errors.push(error.message))
    const html = readFileSync(`${root}examples/react/index.html`, 'utf8')
    await page.route(`${server.url}/react-example/`, (route) => route.fulfill({ contentType: 'text/html', body: html }))
    await page.route(`${server.url}/react-example/main.js`, (route) => route.fulfill({ contentType: 'text/javascript', body: script }))
    await page.goto(`${server.url}/react-example/`)
    return { page, errors }
  }

  /** Calls a demo lever of the server with the page's current access token. */
  async function lever(page: Page, path: string, body?: unknown) {
    const stored = await page.evaluate(() => localStorage.getItem('silent-refresh'))
    const { accessToken } = JSON.parse(stored!) as StoredSession
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    expect(response.status, `${path}: ${await response.text()} ${stored?.slice(0, 40)}`).toBeLessThan(300)
  }

  it("the built entry is a client module for React Server Components ('use client' first, ESM and CJS)", () => {
    // test/e2e/global-setup.ts has built dist/ from the current src/.
    for (const file of ['dist/react.js', 'dist/react.cjs']) expect(readFileSync(`${root}${file}`, 'utf8').startsWith("'use client';"), file).toBe(true)
    for (const file of ['dist/index.js', 'dist/fetch.js', 'dist/rtk-query.js']) expect(readFileSync(`${root}${file}`, 'utf8')).not.toContain('use client')
  })

  it('signs in, loads 20 after an expiry with one refresh, shows the end of the session, resumes after a reload', async () => {
    const { page, errors } = await open()
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('status').filter({ hasText: /^Signed in$/ }).waitFor()

    await lever(page, '/demo/expire')
    const before = { ...server.stats }
    await page.getByRole('button', { name: 'Load 20' }).click()
    await page.getByText('20 of 20 loaded').waitFor()
    expect(server.stats.rotated - before.rotated).toBe(1)
    expect(server.stats.reused - before.reused).toBe(0)
    await page.getByRole('status').filter({ hasText: /^Signed in$/ }).waitFor()

    // A reload: the session comes back from localStorage, through 'loading'.
    await page.reload()
    await page.getByRole('status').filter({ hasText: /^Signed in$/ }).waitFor()

    // The server refuses the next refresh for good: the app shows the sign-in form, saying why.
    await lever(page, '/demo/fail-next-refresh', { mode: 'terminal' })
    await lever(page, '/demo/expire')
    await page.getByRole('button', { name: 'Load 20' }).click()
    await page.getByText('Your session has expired. Sign in again.').waitFor()
    expect(await page.evaluate(() => localStorage.getItem('silent-refresh'))).toBeNull()

    // And back in.
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('status').filter({ hasText: /^Signed in$/ }).waitFor()
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    expect(errors, errors.join("\n")).toEqual([])
    await page.close()
  }, 60_000)
})
