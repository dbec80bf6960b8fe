// createAuthFetch at the browser's boundary, in real Chromium over real HTTP:
// what the browser itself does with a token header on a cross-origin redirect,
// what the adapter does about it, and Request objects of another realm (an
// iframe) and of a polyfill (whatwg-fetch, on the page's XHR).
//
// Two origins: the page's (serves the built SDK, answers /api/* and redirects)
// and a foreign one that answers every CORS preflight permissively — the worst
// case, an attacker's server behind an open redirect — and logs what it got.
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { chromiumPath, launchBrowser } from './harness.js'

const TOKEN = 'page-token-SECRET-5c1e'
const root = fileURLToPath(new URL('../../', import.meta.url))

interface Seen {
  method: string
  path: string
  headers: IncomingHttpHeaders
}

async function listen(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, log: Seen[]) => Promise<void> | void) {
  const log: Seen[] = []
  const server: Server = createServer((req, res) => {
    log.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers })
    void Promise.resolve(handler(req, res, log)).catch(() => res.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, log, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

const html = `<!doctype html><meta charset="utf-8"><title>boundary</title><iframe id="frame" src="/blank.html"></iframe>`

describe.skipIf(!chromiumPath)('createAuthFetch in Chromium', () => {
  let page: Awaited<ReturnType<typeof listen>>
  let foreign: Awaited<ReturnType<typeof listen>>
  let browser: Browser
  let tab: Page

  beforeAll(async () => {
    foreign = await listen((req, res) => {
      // Allows anything from anyone: only the SDK stands between the token and this server.
      res.writeHead(req.method === 'OPTIONS' ? 204 : 200, {
        'access-control-allow-origin': req.headers.origin ?? '*',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
        'access-control-allow-methods': 'GET, POST, PUT, DELETE',
        'content-type': 'application/json',
      })
      res.end(req.method === 'OPTIONS' ? undefined : '{"foreign":true}')
    })
    page = await listen(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const redirect = url.searchParams.get('redirect')
      if (redirect) return void res.writeHead(307, { location: redirect }).end()
      if (url.pathname === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(html)
      if (url.pathname === '/blank.html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html>')
      const file = url.pathname.startsWith('/dist/') ? url.pathname : url.pathname === '/whatwg-fetch.js' ? '/node_modules/whatwg-fetch/fetch.js' : null
      if (file) {
        const body = await readFile(`${root}${file.slice(1)}`)
        return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(body)
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"api":true}')
    })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await Promise.all([page?.close(), foreign?.close()])
  })
  beforeEach(async () => {
    page.log.length = 0
    foreign.log.length = 0
    tab = await browser.newPage()
    await tab.goto(page.url)
    await tab.waitForFunction(() => (document.getElementById('frame') as HTMLIFrameElement | null)?.contentWindow?.document.readyState === 'complete')
  })

  /** Runs `body` in the page with the SDK loaded and a manager signed in with TOKEN; returns what it returns. */
  function inPage<T>(body: string, options: { header?: string; scheme?: string } = {}): Promise<T> {
    // A string, not a function: vitest would rewrite a function's import() for Node.
    return tab.evaluate(`(async () => {
      const { createTokenManager } = await import('/dist/index.js')
      const { createAuthFetch } = await import('/dist/fetch.js')
      const manager = createTokenManager({ refresh: async () => ({ accessToken: 'refreshed' }) })
      await manager.setTokens({ accessToken: ${JSON.stringify(TOKEN)} })
      const options = ${JSON.stringify(options)}
      const foreign = ${JSON.stringify(foreign.url)}
      ${body}
    })()`) as Promise<T>
  }

  const tokenAt = (log: Seen[]) => log.filter((entry) => Object.values(entry.headers).some((value) => String(value).includes(TOKEN)))

  describe('what Chromium does on a 307 from the page’s origin to another', () => {
    test('plain fetch drops Authorization across origins (Fetch standard), so the adapter lets it follow', async () => {
      const result = await inPage<{ status: number; body: unknown }>(`
        const res = await fetch('/api/moved?redirect=' + encodeURIComponent(foreign + '/collect'), { headers: { Authorization: 'Bearer ${TOKEN}' } })
        return { status: res.status, body: await res.json() }`)
      expect(result).toEqual({ status: 200, body: { foreign: true } })
      expect(foreign.log.filter((entry) => entry.method === 'GET')).toHaveLength(1)
      expect(tokenAt(foreign.log)).toEqual([])
    })

    test('plain fetch carries a header of another name (X-Auth-Token) to the other origin when its preflight allows it', async () => {
      await inPage(`await fetch('/api/moved?redirect=' + encodeURIComponent(foreign + '/collect'), { headers: { 'X-Auth-Token': '${TOKEN}' } })`)
      // The browser does leak it: this is why the adapter must not let the browser follow.
      expect(tokenAt(foreign.log).map((entry) => entry.method)).toEqual(['GET'])
    })
  })

  describe('the adapter', () => {
    test('Authorization: the redirect is followed, the other origin gets no token, the caller gets its answer', async () => {
      const result = await inPage<{ status: number; body: unknown }>(`
        const authFetch = createAuthFetch(manager)
        const res = await authFetch('/api/moved?redirect=' + encodeURIComponent(foreign + '/collect'))
        return { status: res.status, body: await res.json() }`)
      expect(result).toEqual({ status: 200, body: { foreign: true } })
      expect(page.log.find((entry) => entry.path.startsWith('/api/moved'))?.headers.authorization).toBe(`Bearer ${TOKEN}`)
      expect(tokenAt(foreign.log)).toEqual([])
    })

    test('regression: token across redirects — X-Auth-Token on a 307 to another origin never reaches it; the request rejects with REDIRECT_BLOCKED', async () => {
      const result = await inPage<{ name: string; code: string }>(
        `
        const authFetch = createAuthFetch(manager, options)
        try {
          await authFetch('/api/moved?redirect=' + encodeURIComponent(foreign + '/collect'))
          return { name: 'resolved', code: '' }
        } catch (error) {
          return { name: error.name, code: error.code }
        }`,
        { header: 'X-Auth-Token', scheme: '' },
      )
      expect(result).toEqual({ name: 'AuthError', code: 'REDIRECT_BLOCKED' })
      expect(page.log.find((entry) => entry.path.startsWith('/api/moved'))?.headers['x-auth-token']).toBe(TOKEN)
      expect(foreign.log).toEqual([])
    })

    test('X-Auth-Token without a redirect: sent, answered as usual', async () => {
      const status = await inPage<number>(`return (await createAuthFetch(manager, options)('/api/data')).status`, { header: 'X-Auth-Token', scheme: '' })
      expect(status).toBe(200)
      expect(page.log.find((entry) => entry.path === '/api/data')?.headers['x-auth-token']).toBe(TOKEN)
    })

    test('regression: token to a foreign origin — an iframe’s Request (another realm) is judged by its url and keeps its headers', async () => {
      const result = await inPage<{ crossRealm: boolean; foreign: number; own: number }>(`
        const FrameRequest = document.getElementById('frame').contentWindow.Request
        const authFetch = createAuthFetch(manager)
        const toForeign = new FrameRequest(foreign + '/collect', { headers: { 'x-request-id': 'f-1' } })
        const toPage = new FrameRequest(location.origin + '/api/data', { headers: { 'x-request-id': 'p-1' } })
        return {
          crossRealm: !(toForeign instanceof Request),
          foreign: (await authFetch(toForeign)).status,
          own: (await authFetch(toPage)).status,
        }`)
      expect(result).toEqual({ crossRealm: true, foreign: 200, own: 200 })
      const get = foreign.log.filter((entry) => entry.method === 'GET')
      expect(get.map((entry) => entry.headers['x-request-id'])).toEqual(['f-1'])
      expect(tokenAt(foreign.log)).toEqual([])
      const own = page.log.find((entry) => entry.path === '/api/data')
      expect(own?.headers['x-request-id']).toBe('p-1')
      expect(own?.headers.authorization).toBe(`Bearer ${TOKEN}`)
    })

    test('regression: token to a foreign origin — a polyfill’s Request (whatwg-fetch, sent by its own fetch on XHR) is judged by its url and keeps its headers', async () => {
      const result = await inPage<{ foreign: number; own: number }>(`
        const polyfill = await import('/whatwg-fetch.js')
        const authFetch = createAuthFetch(manager, { fetch: polyfill.fetch })
        return {
          foreign: (await authFetch(new polyfill.Request(foreign + '/collect', { headers: { 'x-request-id': 'f-2' } }))).status,
          own: (await authFetch(new polyfill.Request('/api/data', { headers: { 'x-request-id': 'p-2' } }))).status,
        }`)
      expect(result).toEqual({ foreign: 200, own: 200 })
      expect(foreign.log.filter((entry) => entry.method === 'GET').map((entry) => entry.headers['x-request-id'])).toEqual(['f-2'])
      expect(tokenAt(foreign.log)).toEqual([])
      const own = page.log.find((entry) => entry.path === '/api/data')
      expect(own?.headers['x-request-id']).toBe('p-2')
      expect(own?.headers.authorization).toBe(`Bearer ${TOKEN}`)
    })
  })
})
