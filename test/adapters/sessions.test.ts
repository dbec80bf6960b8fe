// DESIGN 2 over real HTTP, in both adapters: a request remembers the session and
// generation it was sent with; a 401 is judged by that, never by the token string.
import axios, { type AxiosInstance } from 'axios'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { createTokenManager, SessionExpiredError, type TokenManager, type UnauthorizedOutcome } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { until } from '../helpers/bounds.js'
import { fetchRefresh, rejection, startTokenServer, type TokenServer } from '../helpers/token-server.js'

let server: TokenServer
const managers: TokenManager[] = []

beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())
afterEach(() => {
  for (const manager of managers.splice(0)) manager.dispose()
})

/** Both adapters behind one shape: `get(path)` resolves with the status and body, as the client gives them. */
const clients = {
  axios(manager: TokenManager) {
    const api: AxiosInstance = axios.create({ baseURL: server.url })
    attachAxios(api, manager)
    return async (path: string) => {
      try {
        const res = await api.get(path)
        return { status: res.status, body: res.data as Record<string, unknown> }
      } catch (error) {
        if (axios.isAxiosError(error) && error.response) return { status: error.response.status, body: error.response.data as Record<string, unknown> }
        throw error
      }
    }
  },
  fetch(manager: TokenManager) {
    const authFetch = createAuthFetch(manager, { allowedOrigins: [server.url] })
    return async (path: string) => {
      const res = await authFetch(`${server.url}${path}`)
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
  },
}

async function signedIn(sub = 'alice') {
  const manager = createTokenManager({ refresh: fetchRefresh(server) })
  managers.push(manager)
  const outcomes: UnauthorizedOutcome[] = []
  manager.on('unauthorized', ({ outcome }) => outcomes.push(outcome))
  await manager.setTokens(server.issue(sub))
  return { manager, outcomes }
}

describe.each(['axios', 'fetch'] as const)('%s', (name) => {
  test('regression: a request crossed sessions — a slow 401 of user A is handed back, never retried with user B\'s token', async () => {
    const { manager, outcomes } = await signedIn('alice')
    const get = clients[name](manager)
    const slow = get('/api/me?delayAuth=300')
    await until(() => server.requests('/api/me').length === 1, 5_000, 'the slow request to reach the server')
    // A signs out (the server revokes A's tokens); B signs in before A's request is answered.
    server.expireAll()
    await manager.clear()
    await manager.setTokens(server.issue('bob'))
    const res = await slow
    expect(res.status).toBe(401) // A's answer, as the client gives it: not B's data
    expect(res.body).not.toHaveProperty('sub')
    expect(server.requests('/api/me')).toHaveLength(1) // never retried
    expect(server.stats.refreshCalls).toBe(0)
    expect(outcomes).toEqual(['handed-back'])
    // B's own requests are unaffected.
    expect((await get('/api/me')).body).toMatchObject({ sub: 'bob' })
  })

  test('a slow 401 of a session that was refreshed meanwhile is retried once with the newer token of the same session, no refresh', async () => {
    const { manager, outcomes } = await signedIn()
    const get = clients[name](manager)
    server.expireAll()
    const slow = get('/api/me?delay=300')
    expect((await get('/api/now')).status).toBe(200) // its 401 refreshed
    expect(server.stats.refreshCalls).toBe(1)
    expect((await slow).status).toBe(200)
    expect(server.stats.refreshCalls).toBe(1)
    expect(outcomes.sort()).toEqual(['refresh', 'retry'])
  })

  test('regression: a server that hands back the same access token — 401s arriving one after another cause one refresh, not one each', async () => {
    const { manager } = await signedIn()
    const get = clients[name](manager)
    server.expireAll() // the token is refused…
    server.setRefreshMode('repeat') // …and the refresh answers with that same token again
    const responses = await Promise.all([0, 150, 300, 450, 600].map((delay) => get(`/api/data?delay=${delay}`)))
    expect(responses.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]) // each retried once, then handed back
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.requests('/api/data')).toHaveLength(10)
  })

  test('after a terminal failure, a request sent without a token that meets a 401 rejects with SessionExpiredError (DESIGN 14)', async () => {
    const { manager } = await signedIn()
    const get = clients[name](manager)
    server.expireAll()
    server.setRefreshMode('invalid_grant')
    expect(await rejection(get('/api/me'))).toBeInstanceOf(SessionExpiredError)
    const after = await rejection(get('/api/me'))
    expect(after).toBeInstanceOf(SessionExpiredError)
    expect(server.requests('/api/me').at(-1)?.authorization).toBeNull()
    expect(server.stats.refreshCalls).toBe(1)
    // After a new login, such a 401 is the client's again: nothing is retried under the new session.
    await manager.setTokens(server.issue('bob'))
    await manager.clear()
    expect((await get('/api/me')).status).toBe(401)
  })
})
