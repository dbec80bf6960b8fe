// The race teams adopt this library for, reproduced with the kit's handlers:
// a 401 that arrives *after* a refresh has finished. The usual hand-rolled
// interceptor (a shared promise, cleared when the refresh ends) refreshes a
// second time; silent-refresh sees that the 401 names an old token and retries.
import axios, { type AxiosError, type InternalAxiosRequestConfig } from 'axios'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setupServer } from 'msw/node'
import { createTokenServer } from '../../src/testing/index.js'
import { createTokenManager, refreshTokenGrant } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'

const BASE = 'https://api.test'
const tokens = createTokenServer({ baseUrl: BASE, refreshLatencyMs: 30 })
const server = setupServer(...tokens.handlers)

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => tokens.reset())
afterAll(() => server.close())

/** The interceptor from countless blog posts: one shared refresh promise, cleared when it settles. */
function naiveClient(initial: { accessToken: string; refreshToken: string }, options: { shareRefresh: boolean }) {
  const session = { ...initial }
  const api = axios.create({ baseURL: BASE })
  let refreshing: Promise<void> | null = null
  const refresh = async () => {
    const { data } = await axios.post(`${BASE}/auth/token`, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: session.refreshToken }))
    session.accessToken = data.access_token
    session.refreshToken = data.refresh_token
  }
  api.interceptors.request.use((config) => {
    config.headers.set('Authorization', `Bearer ${session.accessToken}`)
    return config
  })
  api.interceptors.response.use(undefined, async (error: AxiosError) => {
    const config = error.config as InternalAxiosRequestConfig & { _retry?: boolean }
    if (error.response?.status !== 401 || config._retry) throw error
    config._retry = true
    if (options.shareRefresh) {
      refreshing ??= refresh().finally(() => (refreshing = null))
      await refreshing
    } else {
      await refresh()
    }
    return api(config)
  })
  return api
}

describe('a late 401 (the answer arrives after the refresh finished)', () => {
  it('makes the naive interceptor refresh twice', async () => {
    const api = naiveClient(tokens.issueTokens(), { shareRefresh: true })
    tokens.expireAccessTokens()
    // Both leave with the expired token; the slow one's 401 comes back after the refresh is over.
    const results = await Promise.all([api.get('/api/me'), api.get('/api/slow?delay_ms=200')])
    expect(results.map((r) => r.status)).toEqual([200, 200])
    expect(tokens.stats.unauthorized).toBe(2)
    expect(tokens.stats.refreshCalls).toBe(2) // the bug: one expiry, two refreshes
  })

  it('makes silent-refresh refresh once and retry the late request with the new token', async () => {
    const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${BASE}/auth/token` }) })
    await manager.setTokens(tokens.issueTokens())
    const api = axios.create({ baseURL: BASE })
    attachAxios(api, manager)
    tokens.expireAccessTokens()
    const results = await Promise.all([api.get('/api/me'), api.get('/api/slow?delay_ms=200')])
    expect(results.map((r) => r.status)).toEqual([200, 200])
    expect(tokens.stats.unauthorized).toBe(2)
    expect(tokens.stats.refreshCalls).toBe(1)
    manager.dispose()
  })
})

describe('a burst of 401s with rotating refresh tokens', () => {
  it('makes an interceptor without a shared refresh present the same token twice: reuse detected, user signed out', async () => {
    const api = naiveClient(tokens.issueTokens(), { shareRefresh: false })
    tokens.expireAccessTokens()
    const results = await Promise.allSettled([api.get('/api/me'), api.get('/api/me')])
    expect(tokens.stats.refreshCalls).toBe(2)
    expect(tokens.stats.reuseDetected).toBe(1)
    // The family is revoked: at least one request fails, and the next refresh is refused too.
    expect(results.some((r) => r.status === 'rejected')).toBe(true)
  })

  it('makes silent-refresh refresh once, with no reuse', async () => {
    const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${BASE}/auth/token` }) })
    await manager.setTokens(tokens.issueTokens())
    const api = axios.create({ baseURL: BASE })
    attachAxios(api, manager)
    tokens.expireAccessTokens()
    const results = await Promise.all(Array.from({ length: 10 }, () => api.get('/api/me')))
    expect(results.every((r) => r.status === 200)).toBe(true)
    expect(tokens.stats).toMatchObject({ refreshCalls: 1, reuseDetected: 0, unauthorized: 10, authorized: 10 })
    manager.dispose()
  })
})
