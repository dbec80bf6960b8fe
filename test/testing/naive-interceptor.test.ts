// The race teams adopt this library for, reproduced with the kit's handlers:
// a 401 that arrives *after* a refresh has finished. The usual hand-rolled
// interceptor (a shared promise, cleared when the refresh ends) refreshes a
// second time; silent-refresh sees that the 401 names an old token and retries.
//
// The order of events is set by gates, not by latencies: the late request's 401
// is held until the refresh is over, and concurrent refreshes are held until all
// of them reached the server, so a loaded machine cannot reorder them.
import axios, { type AxiosError, type InternalAxiosRequestConfig } from 'axios'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { HttpResponse, http } from 'msw'
import { setupServer } from 'msw/node'
import { createTokenServer } from '../../src/testing/index.js'
import { createTokenManager, refreshTokenGrant } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { deferred, type Deferred } from '../helpers/core-harness.js'

const BASE = 'https://api.test'
const tokens = createTokenServer({ baseUrl: BASE })

/** `/api/late` checks the token on arrival, like every /api/ route; its answer waits until the test lets it go. */
let lateAnswer = deferred<void>()
/** When set, refreshes wait at the server until this many have arrived (a barrier), then go on to the kit's handler. */
let refreshBarrier: { expected: number; arrived: number; all: Deferred<void> } | undefined

const server = setupServer(
  http.get(`${BASE}/api/late`, async (info) => {
    const answer = await tokens.protect(({ claims }) => HttpResponse.json({ sub: claims.sub }))(info)
    await lateAnswer.promise
    return answer
  }),
  http.post(`${BASE}/auth/token`, async () => {
    if (!refreshBarrier) return // on to the token server
    if (++refreshBarrier.arrived === refreshBarrier.expected) refreshBarrier.all.resolve()
    await refreshBarrier.all.promise
  }),
  ...tokens.handlers,
)

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  lateAnswer.resolve()
  lateAnswer = deferred<void>()
  refreshBarrier = undefined
  tokens.reset()
})
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

/**
 * `/api/me` and `/api/late` leave together with the expired token; `/api/me`
 * meets its 401, the refresh, and its retry; only then does `/api/late`'s 401 come back.
 */
async function lateAfterRefresh(api: ReturnType<typeof axios.create>) {
  const fast = api.get('/api/me')
  const late = api.get('/api/late')
  const first = await fast
  expect(tokens.stats.refreshCalls).toBe(1)
  lateAnswer.resolve()
  return [first, await late]
}

describe('a late 401 (the answer arrives after the refresh finished)', () => {
  it('makes the naive interceptor refresh twice', async () => {
    const api = naiveClient(tokens.issueTokens(), { shareRefresh: true })
    tokens.expireAccessTokens()
    // Both leave with the expired token; the late one's 401 comes back after the refresh is over.
    const results = await lateAfterRefresh(api)
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
    const results = await lateAfterRefresh(api)
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
    // Both refreshes are at the server before either answers: both present the same refresh token.
    refreshBarrier = { expected: 2, arrived: 0, all: deferred<void>() }
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
