// createAuthFetch and bodies that cannot be sent twice (DESIGN 3), and a
// shouldRefresh that reads the body (DESIGN 15), over real HTTP.
import { Readable } from 'node:stream'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { AuthError, createTokenManager, type TokenManager, type UnauthorizedOutcome } from '../../src/index.js'
import { createAuthFetch, type AuthFetchOptions } from '../../src/adapters/fetch.js'
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

async function signedIn(wrap: AuthFetchOptions = {}) {
  const manager = createTokenManager({ refresh: fetchRefresh(server) })
  managers.push(manager)
  const outcomes: UnauthorizedOutcome[] = []
  manager.on('unauthorized', ({ outcome }) => outcomes.push(outcome))
  const tokens = server.issue()
  await manager.setTokens(tokens)
  return { manager, tokens, outcomes, authFetch: createAuthFetch(manager, { allowedOrigins: [server.url], ...wrap }) }
}

const chunks = ['first chunk;', 'second chunk;', 'third chunk']
async function* generate() {
  for (const chunk of chunks) yield new TextEncoder().encode(chunk)
}

describe('bodies that cannot be sent twice', () => {
  test.each([
    ['an async iterable (duplex half)', () => generate()],
    ['a stream.Readable', () => Readable.from(chunks.map((chunk) => Buffer.from(chunk)))],
  ])('regression: %s is never re-sent empty: its 401 refreshes once, then rejects with BODY_NOT_REPLAYABLE', async (_, body) => {
    const { authFetch, manager, tokens } = await signedIn()
    server.expireAll()
    const init = { method: 'POST', body: body(), duplex: 'half', headers: { 'content-type': 'text/plain' } } as unknown as RequestInit
    const error = await rejection(authFetch(`${server.url}/api/echo`, init))
    expect(error).toBeInstanceOf(AuthError)
    expect((error as AuthError).code).toBe('BODY_NOT_REPLAYABLE')
    expect((error as AuthError).message).toMatch(/stream, which cannot be sent twice/)
    // Sent once, whole; never a second, empty time.
    expect(server.requests('/api/echo').map((entry) => [entry.status, entry.body.toString()])).toEqual([[401, chunks.join('')]])
    // The refresh happened: the caller's next try goes with a valid token.
    expect(server.stats.refreshCalls).toBe(1)
    expect(await manager.getAccessToken()).not.toBe(tokens.accessToken)
    const again = await authFetch(`${server.url}/api/echo`, { ...init, body: body() } as unknown as RequestInit)
    expect(again.status).toBe(200)
    expect(server.requests('/api/echo')[1]?.body.toString()).toBe(chunks.join(''))
  })

  test('a stream body that meets no 401 is sent once, as it is', async () => {
    const { authFetch } = await signedIn()
    const res = await authFetch(`${server.url}/api/echo`, { method: 'POST', body: generate(), duplex: 'half' } as unknown as RequestInit)
    expect(res.status).toBe(200)
    expect(server.requests('/api/echo').map((entry) => entry.body.toString())).toEqual([chunks.join('')])
  })

  test('a stream body whose session ended meanwhile is handed back with its 401', async () => {
    const { authFetch, manager } = await signedIn()
    server.expireAll()
    const pending = authFetch(`${server.url}/api/echo?delayAuth=300`, { method: 'POST', body: generate(), duplex: 'half' } as unknown as RequestInit)
    await until(() => server.requests('/api/echo').length === 1, 5_000, 'the request to reach the server')
    await manager.clear()
    expect((await pending).status).toBe(401)
  })
})

describe('shouldRefresh reading the body (GraphQL, DESIGN 15)', () => {
  const unauthenticated = async (response: Response) => {
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] }
    return !!body.errors?.some((error) => error.extensions?.code === 'UNAUTHENTICATED')
  }

  test('an async shouldRefresh reads a clone: a 200 with UNAUTHENTICATED refreshes once and retries; the caller gets an unread body', async () => {
    const { authFetch, outcomes } = await signedIn({ shouldRefresh: unauthenticated })
    server.expireAll()
    const res = await authFetch(`${server.url}/graphql`)
    expect(res.bodyUsed).toBe(false)
    expect(await res.json()).toEqual({ data: { me: { sub: 'alice' } } })
    expect(server.requests('/graphql')).toHaveLength(2)
    expect(server.stats.refreshCalls).toBe(1)
    expect(outcomes).toEqual(['refresh'])
  })

  test('regression: a shouldRefresh that reads the body leaves the caller an unread body', async () => {
    const { authFetch } = await signedIn({ shouldRefresh: unauthenticated })
    const res = await authFetch(`${server.url}/graphql`)
    expect(res.bodyUsed).toBe(false)
    expect(await res.json()).toEqual({ data: { me: { sub: 'alice' } } })
  })

  test('the stale-401 rule: concurrent UNAUTHENTICATED answers, some arriving after the refresh, cause one refresh', async () => {
    const { authFetch, outcomes } = await signedIn({ shouldRefresh: unauthenticated })
    server.expireAll()
    const responses = await Promise.all([0, 0, 0, 200, 400].map((delay) => authFetch(`${server.url}/graphql?delay=${delay}`)))
    for (const res of responses) expect(await res.json()).toEqual({ data: { me: { sub: 'alice' } } })
    expect(server.stats.refreshCalls).toBe(1)
    // Each answer was judged: the first ones waited for the one refresh, the late ones took its token.
    expect(outcomes).toHaveLength(5)
    expect(outcomes.every((outcome) => outcome === 'refresh' || outcome === 'retry')).toBe(true)
  })

  test('a second UNAUTHENTICATED after the refresh is handed back, not refreshed again', async () => {
    const { authFetch } = await signedIn({ shouldRefresh: async (response) => response.status === 200 && (await unauthenticated(response)) })
    server.state.authHeader = 'x-never-sent'
    const res = await authFetch(`${server.url}/graphql`)
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] })
    expect(server.requests('/graphql')).toHaveLength(2)
    expect(server.stats.refreshCalls).toBe(1)
  })
})
