// @vitest-environment happy-dom
// "silent-refresh/react" in a DOM (happy-dom) with @testing-library/react and
// React 19: useSession() follows the manager through a real refresh against the
// real token server; StrictMode's double mount leaves one subscription;
// hydration of the server's HTML matches. Server rendering in Node without a
// DOM: react-ssr.test.ts. In real Chromium: test/e2e/react.test.ts.
import { act, cleanup as unmountAll, render, screen, waitFor } from '@testing-library/react'
import { StrictMode, createElement as h, useEffect } from 'react'
import { hydrateRoot } from 'react-dom/client'
import { renderToString } from 'react-dom/server'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { SessionExpiredError, createTokenManager, refreshTokenGrant, type RefreshFn, type TokenManager, type TokenSet } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { SessionProvider, useSession, useTokenManager, type SessionState } from '../../src/integrations/react/index.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'

let server: TokenServer
const managers: TokenManager[] = []

beforeAll(async () => {
  server = await startTokenServer()
  // happy-dom's fetch enforces CORS: make the page same-origin with the token server, as an SPA is with its API.
  ;(window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${server.url}/app`)
})
afterAll(() => server.close())
beforeEach(() => server.reset())
afterEach(() => {
  unmountAll()
  for (const manager of managers.splice(0)) manager.dispose()
})

/** A refresh against the real server that waits for `open()` before it sends (to see 'refreshing' on screen). */
function gatedRefresh(): { refresh: RefreshFn; open(): void } {
  const grant = refreshTokenGrant({ url: `${server.url}/auth/token` })
  let open!: () => void
  let gate = new Promise<void>((resolve) => (open = resolve))
  return {
    refresh: async (context) => {
      await gate
      gate = new Promise<void>((resolve) => (open = resolve))
      return grant(context)
    },
    open: () => open(),
  }
}

/** Storage whose first read answers when `answer()` is called (a slow Keychain): the manager is 'loading' until then. */
function slowStorage() {
  let answer!: (tokens: TokenSet | null) => void
  const read = new Promise<TokenSet | null>((resolve) => (answer = resolve))
  return { storage: { get: vi.fn(() => read), set: () => {}, clear: () => {} }, answer: (tokens: TokenSet | null) => answer(tokens) }
}

function newManager(options: { refresh?: RefreshFn; storage?: ReturnType<typeof slowStorage>['storage'] } = {}) {
  const manager = createTokenManager({
    refresh: options.refresh ?? refreshTokenGrant({ url: `${server.url}/auth/token` }),
    retry: { attempts: 0 },
    storage: options.storage,
  })
  managers.push(manager)
  return manager
}

/** Shows the session as text, and every state it rendered. */
function Status({ seen }: { seen?: SessionState[] }) {
  const session = useSession()
  seen?.push(session)
  const detail = session.status === 'signedOut' ? `:${session.reason}` : ''
  return h('p', { 'data-testid': 'status' }, `${session.status}${detail}${session.error ? `:${session.error.code}` : ''}`)
}

/** Waits for what the screen shows: a generous bound for a loaded machine, not a timing assertion. */
const eventually = (check: () => void) => waitFor(check, { timeout: 10_000 })

const app = (manager: TokenManager, seen?: SessionState[]) => h(SessionProvider, { manager }, h(Status, { seen }))
const shown = () => screen.getByTestId('status').textContent

describe('useSession()', () => {
  test('follows the manager: loading, signedIn, refreshing during a refresh, signedIn, then signedOut with the SessionExpiredError', async () => {
    const gate = gatedRefresh()
    const slow = slowStorage()
    const manager = newManager({ refresh: gate.refresh, storage: slow.storage })
    const authFetch = createAuthFetch(manager, { allowedOrigins: [server.url] })
    render(app(manager))
    expect(shown()).toBe('loading')

    await act(async () => slow.answer(server.issue()))
    expect(shown()).toBe('signedIn')

    server.expireAll()
    const request = authFetch(`${server.url}/api/me`)
    await eventually(() => expect(shown()).toBe('refreshing'))
    gate.open()
    expect((await request).status).toBe(200)
    await eventually(() => expect(shown()).toBe('signedIn'))

    server.expireAll()
    server.setRefreshMode('invalid_grant')
    const ended = authFetch(`${server.url}/api/me`).catch((error: unknown) => error)
    await eventually(() => expect(shown()).toBe('refreshing'))
    gate.open()
    expect(await ended).toBeInstanceOf(SessionExpiredError)
    await eventually(() => expect(shown()).toBe('signedOut:expired:SESSION_EXPIRED'))
  })

  test('a transient failure shows as signedIn with the RefreshFailedError; never a token in what it renders', async () => {
    const manager = newManager()
    const tokens = server.issue()
    await manager.setTokens(tokens)
    const authFetch = createAuthFetch(manager, { allowedOrigins: [server.url] })
    const seen: SessionState[] = []
    const { container } = render(app(manager, seen))
    expect(shown()).toBe('signedIn')
    server.expireAll()
    server.setRefreshMode('503')
    await act(() => authFetch(`${server.url}/api/me`).catch(() => {}))
    expect(shown()).toBe('signedIn:REFRESH_FAILED')
    const rendered = container.innerHTML + JSON.stringify(seen) + seen.map((s) => String(s.error?.stack)).join('')
    for (const secret of [tokens.accessToken, tokens.refreshToken]) expect(rendered).not.toContain(secret)
  })

  test('signing out (clear) and a new login re-render; the same state object while nothing changes', async () => {
    const manager = newManager()
    await manager.setTokens(server.issue())
    const seen: SessionState[] = []
    const { rerender } = render(app(manager, seen))
    rerender(app(manager, seen))
    expect(seen[1]).toBe(seen[0]) // memoised on the manager's state: React.memo'd children do not re-render
    await act(() => manager.clear())
    expect(shown()).toBe('signedOut:cleared')
    await act(() => manager.setTokens(server.issue()))
    expect(shown()).toBe('signedIn')
  })

  test('StrictMode: the double mount leaves exactly one subscription, and none after unmount', async () => {
    const manager = newManager()
    await manager.setTokens(server.issue())
    let active = 0
    const on = manager.on.bind(manager)
    vi.spyOn(manager, 'on').mockImplementation((event, listener) => {
      const off = on(event, listener)
      if (event !== 'state') return off
      active++
      return () => {
        active--
        off()
      }
    })
    const { unmount } = render(h(StrictMode, null, app(manager)))
    expect(active).toBe(1)
    await act(() => manager.clear())
    expect(shown()).toBe('signedOut:cleared')
    unmount()
    expect(active).toBe(0)
  })

  test('useTokenManager() gives the provider\'s manager; outside a provider both hooks say what is missing', () => {
    const manager = newManager()
    let got: TokenManager | undefined
    function Probe() {
      const m = useTokenManager()
      useEffect(() => {
        got = m
      })
      return null
    }
    render(h(SessionProvider, { manager }, h(Probe)))
    expect(got).toBe(manager)
    vi.spyOn(console, 'error').mockImplementation(() => {}) // React reports the error it rethrows
    expect(() => render(h(Status))).toThrow('must be called below <SessionProvider manager={manager}>')
    expect(() => render(h(SessionProvider, { manager: undefined as never }))).toThrow('"manager" must be the token manager')
  })
})

describe('server rendering and hydration', () => {
  test("the server's HTML says loading without reading storage; hydration matches, then shows the session", async () => {
    const slow = slowStorage()
    const manager = newManager({ storage: slow.storage })
    const html = renderToString(app(manager))
    expect(html).toContain('loading')
    expect(slow.storage.get).not.toHaveBeenCalled()

    const container = document.createElement('div')
    container.innerHTML = html
    document.body.append(container)
    const onRecoverableError = vi.fn()
    let root: ReturnType<typeof hydrateRoot> | undefined
    await act(async () => {
      root = hydrateRoot(container, app(manager), { onRecoverableError })
    })
    expect(container.textContent).toBe('loading')
    await act(async () => slow.answer(server.issue()))
    expect(container.textContent).toBe('signedIn')
    expect(onRecoverableError).not.toHaveBeenCalled()
    act(() => root!.unmount())
    container.remove()
  })

  test('a session the client already holds when it hydrates: the first render still matches the HTML, then updates', async () => {
    const manager = newManager()
    const html = renderToString(app(newManager())) // the server has no session
    await manager.setTokens(server.issue()) // the browser's manager has one, synchronously
    const container = document.createElement('div')
    container.innerHTML = html
    document.body.append(container)
    const onRecoverableError = vi.fn()
    let root: ReturnType<typeof hydrateRoot> | undefined
    await act(async () => {
      root = hydrateRoot(container, app(manager), { onRecoverableError })
    })
    expect(container.textContent).toBe('signedIn')
    expect(onRecoverableError).not.toHaveBeenCalled()
    act(() => root!.unmount())
    container.remove()
  })
})
