// The tests docs/testing.md walks through. Copy this file next to your app code:
// only the imports of your own modules change.
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTokenServer } from 'silent-refresh/testing'
import { createApp } from './dashboard.js'

const API = 'https://api.example.test'
const tokens = createTokenServer({ baseUrl: API })
const server = setupServer(
  // Your own API route, protected by the kit: listed first, msw uses the first match.
  http.get(`${API}/api/widgets/:id`, tokens.protect(({ params }) => HttpResponse.json({ id: params.id, name: `Widget ${params.id}` }))),
  ...tokens.handlers,
)

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  vi.useRealTimers()
  server.resetHandlers()
  tokens.reset()
})
afterAll(() => server.close())

describe('dashboard', () => {
  it('fires 20 requests while the token expires: one refresh, 20 successes', async () => {
    const app = createApp(API)
    await app.signIn('alice', 'correct horse')
    tokens.expireAccessTokens() // the server says "expired"; the app still believes its token is good

    await app.loadDashboard(20)

    expect(app.widgets).toHaveLength(20)
    expect(app.widgets[19]).toEqual({ id: '20', name: 'Widget 20' })
    expect(tokens.stats.unauthorized).toBe(20) // every request met the expiry…
    expect(tokens.stats.refreshCalls).toBe(1) // …and they shared one refresh
    expect(tokens.stats.authorized).toBe(20)
    expect(app.screen).toBe('dashboard')
  })

  it('refreshes before the token runs out, when the app knows the expiry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] }) // before createApp: the manager keeps the clock it starts with
    const app = createApp(API)
    await app.signIn('alice', 'correct horse')
    vi.setSystemTime(Date.now() + 15 * 60_000) // the 15-minute token has just expired

    await app.loadDashboard(20)

    expect(app.widgets).toHaveLength(20)
    expect(tokens.stats.refreshCalls).toBe(1)
    expect(tokens.stats.unauthorized).toBe(0) // refreshed first: no request was sent with the old token
  })

  it('refresh rejected → my app shows the login screen', async () => {
    const app = createApp(API)
    await app.signIn('alice', 'correct horse')
    tokens.expireAccessTokens()
    tokens.failNextRefresh('invalid_grant') // the session is over on the server

    await app.loadDashboard(20)

    expect(app.screen).toBe('login')
    expect(app.widgets).toEqual([])
    expect(tokens.stats.refreshCalls).toBe(1) // terminal: not retried
    expect(await app.manager.getAccessToken()).toBeNull()
  })

  it('a refresh that fails for now keeps the user signed in', async () => {
    const app = createApp(API)
    await app.signIn('alice', 'correct horse')
    tokens.expireAccessTokens()
    tokens.failNextRefresh('server_error', { times: 3 }) // the first try and both retries

    await expect(app.loadDashboard(5)).rejects.toMatchObject({ code: 'REFRESH_FAILED' })
    expect(app.screen).toBe('dashboard')

    await app.loadDashboard(5) // the server is back
    expect(app.widgets).toHaveLength(5)
    expect(tokens.stats.refreshCalls).toBe(4)
  })
})
