// DESIGN 8 across redirects, for createAuthFetch on Node's fetch: the token never
// reaches an origin that is not allowed, whatever the header's name. Two real
// servers on two ports (two origins); the allowed one redirects to the other.
import { beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { AuthError, createTokenManager } from '../../src/index.js'
import { createAuthFetch, type AuthFetchOptions } from '../../src/adapters/fetch.js'
import { fetchRefresh, type TokenServer } from '../helpers/token-server.js'
import { useTwoTokenServers } from '../helpers/two-servers.js'

const { servers, managers } = useTwoTokenServers()
let server: TokenServer
let other: TokenServer
beforeAll(() => void ({ server, other } = servers))

async function signedIn(wrap: AuthFetchOptions = {}) {
  const manager = createTokenManager({ refresh: fetchRefresh(server) })
  managers.push(manager)
  const tokens = server.issue()
  await manager.setTokens(tokens)
  return { manager, tokens, authFetch: createAuthFetch(manager, { allowedOrigins: [server.url], ...wrap }) }
}

/** Requests `target` received carrying any token `server` issued, in any header. */
const leaks = (target: TokenServer) =>
  target.log.filter((entry) => Object.values(entry.headers).some((value) => server.issued.some((token) => String(value).includes(token))))

const redirect = (to: string, code = 307) => `${server.url}/api/moved?redirect=${encodeURIComponent(to)}&code=${code}`

describe.each([
  ['Authorization', 'Bearer'],
  ['X-Auth-Token', ''],
])('header %s', (header, scheme) => {
  beforeEach(() => {
    server.state.authHeader = header.toLowerCase()
    server.state.authScheme = scheme
  })

  test.each([301, 302, 303, 307, 308])(`regression: token across redirects — a %i from the allowed API to another origin does not carry ${header}`, async (code) => {
    const { authFetch } = await signedIn({ header, scheme })
    const res = await authFetch(redirect(`${other.url}/public/echo`, code))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ authorization: null })
    expect(server.requests('/api/moved')[0]?.headers[header.toLowerCase()]).toBeTruthy() // the first hop had it
    expect(other.log).toHaveLength(1) // the redirect was followed
    expect(leaks(other)).toEqual([])
  })

  test('a redirect within the allowed origin keeps the token', async () => {
    const { authFetch, tokens } = await signedIn({ header, scheme })
    const res = await authFetch(redirect(`${server.url}/api/data`))
    expect(res.status).toBe(200)
    expect(server.requests('/api/data')[0]?.headers[header.toLowerCase()]).toBe(scheme ? `${scheme} ${tokens.accessToken}` : tokens.accessToken)
  })

  test('a redirect to another allowed origin keeps the token', async () => {
    const { authFetch, tokens } = await signedIn({ header, scheme, allowedOrigins: [server.url, other.url] })
    await authFetch(redirect(`${other.url}/public/echo`))
    expect(other.log[0]?.headers[header.toLowerCase()]).toBe(scheme ? `${scheme} ${tokens.accessToken}` : tokens.accessToken)
  })

  test('a chain allowed → foreign → allowed carries the token on the allowed hops only', async () => {
    const { authFetch } = await signedIn({ header, scheme })
    const back = `${other.url}/public/hop?redirect=${encodeURIComponent(`${server.url}/api/data`)}&code=302`
    const res = await authFetch(redirect(back))
    expect(res.status).toBe(200)
    expect(leaks(other)).toEqual([])
    expect(server.requests('/api/data')[0]?.headers[header.toLowerCase()]).toBeTruthy()
  })
})

describe('redirect semantics kept (Fetch standard)', () => {
  test('307 and 308 keep the method and the body; 303 and a 302 after POST become a GET without a body', async () => {
    const { authFetch } = await signedIn()
    for (const code of [307, 308]) {
      await authFetch(redirect(`${server.url}/api/echo`, code), { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } })
    }
    for (const code of [303, 302]) {
      await authFetch(redirect(`${server.url}/api/echo`, code), { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } })
    }
    const seen = server.requests('/api/echo').map((entry) => [entry.method, entry.body.toString(), entry.headers['content-type'] ?? null])
    expect(seen).toEqual([
      ['POST', 'payload', 'text/plain'],
      ['POST', 'payload', 'text/plain'],
      ['GET', '', null],
      ['GET', '', null],
    ])
  })

  test('a redirect then a 401 refreshes once and retries from the start', async () => {
    const { authFetch, manager } = await signedIn()
    server.expireAll()
    const res = await authFetch(redirect(`${server.url}/api/data`))
    expect(res.status).toBe(200)
    expect(server.requests('/api/moved')).toHaveLength(2)
    expect(server.requests('/api/data').map((entry) => entry.status)).toEqual([401, 200])
    expect(server.requests('/api/data')[1]?.authorization).toBe(`Bearer ${await manager.getAccessToken()}`)
    expect(server.stats.refreshCalls).toBe(1)
  })

  test("redirect: 'manual' from the caller hands the 3xx back, and 'error' rejects, as fetch does", async () => {
    const { authFetch } = await signedIn()
    const res = await authFetch(redirect(`${other.url}/public/echo`), { redirect: 'manual' })
    expect(res.status).toBe(307)
    await expect(authFetch(redirect(`${other.url}/public/echo`), { redirect: 'error' })).rejects.toThrow(TypeError)
    expect(other.log).toHaveLength(0)
  })

  test('more than 20 redirects reject with a TypeError, as fetch does', async () => {
    const { authFetch } = await signedIn()
    const loop = `${server.url}/api/loop?redirect=self`
    const error: unknown = await authFetch(loop).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).not.toBeInstanceOf(AuthError)
    expect(server.requests('/api/loop')).toHaveLength(21)
  })
})
