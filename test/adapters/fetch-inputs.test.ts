// DESIGN 8: the token goes where the request actually goes. A Request made by
// another fetch implementation fails `instanceof Request`; it must be judged by
// its own `url` and keep its own headers. Real packages (undici, node-fetch), each
// with its own fetch, against two real servers on two ports (two origins).
import nodeFetch, { Request as NodeFetchRequest } from 'node-fetch'
import { fetch as undiciFetch, Request as UndiciRequest } from 'undici'
import { beforeAll, describe, expect, test } from 'vitest'
import { createTokenManager } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { fetchRefresh, type EchoBody, type TokenServer } from '../helpers/token-server.js'
import { useTwoTokenServers } from '../helpers/two-servers.js'

const { servers, managers } = useTwoTokenServers()
let server: TokenServer
let other: TokenServer
beforeAll(() => void ({ server, other } = servers))

/** Requests `target` received carrying any token `server` issued, in any header. */
const leaks = (target: TokenServer) =>
  target.log.filter((entry) => Object.values(entry.headers).some((value) => server.issued.some((token) => String(value).includes(token))))

const implementations = {
  undici: { fetch: undiciFetch as unknown as typeof fetch, Request: UndiciRequest as unknown as typeof Request },
  'node-fetch': { fetch: nodeFetch as unknown as typeof fetch, Request: NodeFetchRequest as unknown as typeof Request },
}

describe.each(Object.keys(implementations) as (keyof typeof implementations)[])('a Request of the %s package', (name) => {
  const { fetch: theirFetch, Request: TheirRequest } = implementations[name]

  async function signedIn() {
    const manager = createTokenManager({ refresh: fetchRefresh(server) })
    managers.push(manager)
    const tokens = server.issue()
    await manager.setTokens(tokens)
    const authFetch = createAuthFetch(manager, { fetch: theirFetch, allowedOrigins: [server.url] })
    return { manager, tokens, authFetch }
  }

  test('is not instanceof the global Request (the premise of the regression)', () => {
    expect(new TheirRequest(`${other.url}/public/echo`)).not.toBeInstanceOf(Request)
  })

  test(`regression: token to a foreign origin — a ${name} Request to another origin gets no token`, async () => {
    const { authFetch } = await signedIn()
    const res = await authFetch(new TheirRequest(`${other.url}/public/echo`, { headers: { 'x-request-id': 'r-1' } }) as unknown as Request)
    expect(await res.json()).toEqual({ authorization: null })
    expect(other.log).toHaveLength(1)
    expect(other.log[0]?.headers['x-request-id']).toBe('r-1')
    expect(leaks(other)).toEqual([])
  })

  test(`regression: a ${name} Request keeps its own headers (content-type, x-request-id) and its body, on the first try and on the retry`, async () => {
    const { authFetch, manager, tokens } = await signedIn()
    server.expireAll()
    const request = new TheirRequest(`${server.url}/api/echo`, {
      method: 'POST',
      body: '{"order":42}',
      headers: { 'content-type': 'application/json', 'x-request-id': 'r-2' },
    })
    const res = await authFetch(request as unknown as Request)
    expect(res.status).toBe(200)
    const echo = (await res.json()) as EchoBody
    expect(Buffer.from(echo.body, 'base64').toString()).toBe('{"order":42}')
    const [first, retry] = server.requests('/api/echo')
    for (const attempt of [first, retry]) {
      expect(attempt?.method).toBe('POST')
      expect(attempt?.headers['content-type']).toBe('application/json')
      expect(attempt?.headers['x-request-id']).toBe('r-2')
      expect(attempt?.body.toString()).toBe('{"order":42}')
    }
    expect(first?.authorization).toBe(`Bearer ${tokens.accessToken}`)
    expect(retry?.authorization).toBe(`Bearer ${await manager.getAccessToken()}`)
    expect(server.stats.refreshCalls).toBe(1)
  })

  test(`init headers given beside a ${name} Request replace its own, as fetch does`, async () => {
    const { authFetch, tokens } = await signedIn()
    const request = new TheirRequest(`${server.url}/api/echo`, { headers: { 'x-request-id': 'old', 'x-other': 'dropped' } })
    const res = await authFetch(request as unknown as Request, { headers: { 'x-request-id': 'new' } })
    expect(res.status).toBe(200)
    const [seen] = server.requests('/api/echo')
    expect(seen?.headers['x-request-id']).toBe('new')
    expect(seen?.headers['x-other']).toBeUndefined()
    expect(seen?.authorization).toBe(`Bearer ${tokens.accessToken}`)
  })
})

test('a URL object is judged by its href; a foreign one gets no token', async () => {
  const manager = createTokenManager({ refresh: fetchRefresh(server) })
  managers.push(manager)
  const tokens = server.issue()
  await manager.setTokens(tokens)
  const authFetch = createAuthFetch(manager, { allowedOrigins: [server.url] })
  expect(await (await authFetch(new URL(`${server.url}/public/echo`))).json()).toEqual({ authorization: `Bearer ${tokens.accessToken}` })
  expect(await (await authFetch(new URL(`${other.url}/public/echo`))).json()).toEqual({ authorization: null })
  expect(leaks(other)).toEqual([])
})

describe('what authFetch hands back', () => {
  // The hot path is no async function; whatever throws on it must still be a rejection, as fetch's is.
  test('a fetch that throws instead of rejecting, or an input that is no URL: authFetch rejects, never throws', async () => {
    const manager = createTokenManager({ refresh: fetchRefresh(server) })
    managers.push(manager)
    await manager.setTokens(server.issue())
    const boom = new TypeError('invalid input')
    const throwing = (() => {
      throw boom
    }) as typeof fetch
    const authFetch = createAuthFetch(manager, { fetch: throwing, allowedOrigins: [server.url] })
    let sent: Promise<Response> | undefined
    expect(() => (sent = authFetch(`${server.url}/api/echo`))).not.toThrow()
    await expect(sent).rejects.toBe(boom)
    let noUrl: Promise<Response> | undefined
    expect(() => (noUrl = authFetch(Symbol('no URL') as never))).not.toThrow()
    await expect(noUrl).rejects.toBeInstanceOf(TypeError)
  })
})
