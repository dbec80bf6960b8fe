// attachAxios never sends a token to another origin: checked with a second real
// server on another port that records every header it receives.
import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { createTokenManager, type TokenManager } from '../../src/index.js'
import { attachAxios, type AttachAxiosOptions } from '../../src/adapters/axios.js'
import { fetchRefresh, startTokenServer, type TokenServer } from '../helpers/token-server.js'

let main: TokenServer
let other: TokenServer
const managers: TokenManager[] = []

beforeAll(async () => {
  ;[main, other] = await Promise.all([startTokenServer(), startTokenServer()])
})
afterAll(async () => {
  await Promise.all([main.close(), other.close()])
})
beforeEach(() => {
  main.reset()
  other.reset()
})
afterEach(() => {
  for (const manager of managers.splice(0)) manager.dispose()
})

/** `defaults` default to a baseURL on the main server; pass `{}` for an instance without baseURL. */
async function setup(attach: AttachAxiosOptions = {}, defaults?: CreateAxiosDefaults) {
  const manager = createTokenManager({ refresh: fetchRefresh(main) })
  managers.push(manager)
  let refreshes = 0
  manager.on('refresh', () => refreshes++)
  const tokens = main.issue()
  await manager.setTokens(tokens)
  const api: AxiosInstance = axios.create(defaults ?? { baseURL: main.url })
  attachAxios(api, manager, attach)
  return { manager, api, tokens, refreshes: () => refreshes }
}

/** Requests `server` received carrying any token `main` issued, in any header. */
const leaks = (server: TokenServer) =>
  server.log.filter((entry) =>
    Object.values(entry.headers).some((value) => main.issued.some((token) => String(value).includes(token))),
  )

const settle = (promise: Promise<unknown>) => promise.then(
  () => 'resolved',
  () => 'rejected',
)

describe('the token goes to', () => {
  test('relative URLs (the instance baseURL)', async () => {
    const { api, tokens } = await setup({})
    const res = await api.get('/public/echo')
    expect(res.data).toEqual({ authorization: `Bearer ${tokens.accessToken}` })
  })

  test('an absolute URL on the baseURL origin, and a baseURL with a path', async () => {
    const { api, tokens } = await setup({}, { baseURL: `${main.url}/public/` })
    expect((await api.get(`${main.url}/public/echo`)).data).toEqual({ authorization: `Bearer ${tokens.accessToken}` })
    expect((await api.get('echo')).data).toEqual({ authorization: `Bearer ${tokens.accessToken}` })
  })

  test('allowedOrigins, normalised (case, path, trailing slash)', async () => {
    const upper = `HTTP://127.0.0.1:${other.port}/some/path/`
    const { api, tokens } = await setup({ allowedOrigins: [upper] })
    expect((await api.get(`${other.url}/public/echo`)).data).toEqual({ authorization: `Bearer ${tokens.accessToken}` })
  })

  test('the baseURL when allowAbsoluteUrls is false, even for an absolute URL to another origin', async () => {
    const { api, tokens } = await setup({}, { baseURL: `${main.url}/public/`, allowAbsoluteUrls: false })
    const res = await api.get(`${other.url}/public/echo`)
    expect(res.data).toEqual({ authorization: `Bearer ${tokens.accessToken}` })
    expect(other.log).toHaveLength(0)
    // Per request as well.
    const api2 = (await setup({}, { baseURL: `${main.url}/public/` })).api
    const res2 = await api2.get(`${other.url}/public/echo`, { allowAbsoluteUrls: false })
    expect(res2.data.authorization).toMatch(/^Bearer /)
    expect(other.log).toHaveLength(0)
  })
})

describe('the token never goes to another origin', () => {
  test('an absolute URL to another origin with a baseURL set', async () => {
    const { api } = await setup({})
    expect((await api.get(`${other.url}/public/echo`)).data).toEqual({ authorization: null })
    expect(leaks(other)).toEqual([])
  })

  test('an instance without baseURL (no page in Node)', async () => {
    const { api } = await setup({}, {})
    expect((await api.get(`${other.url}/public/echo`)).data).toEqual({ authorization: null })
    expect((await api.get(`${main.url}/public/echo`)).data).toEqual({ authorization: null })
    expect(leaks(other)).toEqual([])
  })

  test('a protocol-relative URL //127.0.0.1:otherPort/...', async () => {
    const { api } = await setup({})
    await settle(api.get(`//127.0.0.1:${other.port}/public/echo`))
    expect(leaks(other)).toEqual([])
  })

  test('a per-request baseURL pointing at the other server does not widen the allowlist', async () => {
    const { api } = await setup({})
    const res = await api.get('/public/echo', { baseURL: other.url })
    expect(res.data).toEqual({ authorization: null })
    expect(other.log).toHaveLength(1)
    expect(leaks(other)).toEqual([])
  })

  test('a URL with leading whitespace', async () => {
    const based = await setup({})
    await settle(based.api.get(`  ${other.url}/public/echo`))
    await settle(based.api.get(`\t\n${other.url}/public/echo`))
    const bare = await setup({}, {})
    const res = await bare.api.get(` ${other.url}/public/echo`)
    expect(res.data).toEqual({ authorization: null })
    expect(leaks(other)).toEqual([])
  })

  test('userinfo and backslash tricks', async () => {
    const { api } = await setup({})
    const tricks = [
      `http://127.0.0.1:${main.port}@127.0.0.1:${other.port}/public/echo`,
      `http://user@127.0.0.1:${other.port}/public/echo`,
      `http://127.0.0.1:${other.port}\\@127.0.0.1:${main.port}/public/echo`,
      `http://127.0.0.1:${other.port}#@127.0.0.1:${main.port}/public/echo`,
      `http://127.0.0.1:${other.port}?@127.0.0.1:${main.port}/public/echo`,
    ]
    for (const url of tricks) await settle(api.get(url))
    expect(other.log.length).toBeGreaterThan(0)
    expect(leaks(other)).toEqual([])
    // The allowlist is not widened by a bare token either: no Bearer header at all.
    expect(other.log.filter((entry) => entry.authorization?.startsWith('Bearer'))).toEqual([])
  })

  test('a host that only resembles an allowed origin', async () => {
    const { api } = await setup({ allowedOrigins: [`http://127.0.0.1:${other.port}`] })
    await settle(api.get(`http://localhost:${other.port}/public/echo`)) // same server, another origin
    await settle(api.get(`https://127.0.0.1:${other.port}/public/echo`)) // another scheme
    expect(leaks(other)).toEqual([])
  })

  test('the placeholder origin that stands for "relative" in Node is not an allowed absolute origin', async () => {
    // In Node there is no page; http://relative.invalid stands for the page's origin. An absolute URL to
    // it must not get the token: with an HTTP proxy (here the other server) the header reaches the proxy.
    const { api } = await setup({})
    await settle(
      api.get('http://relative.invalid/public/echo', { proxy: { protocol: 'http', host: '127.0.0.1', port: other.port } }),
    )
    expect(other.log).toHaveLength(1)
    expect(leaks(other)).toEqual([])
  })

  test('a 401 from a foreign origin never triggers a refresh', async () => {
    const { api, refreshes } = await setup({})
    const error: unknown = await api.get(`${other.url}/api/data`).catch((e: unknown) => e)
    expect(axios.isAxiosError(error) && error.response?.status).toBe(401)
    expect(refreshes()).toBe(0)
    expect(main.stats.refreshCalls + other.stats.refreshCalls).toBe(0)
    expect(other.log[0]?.authorization).toBeNull()
  })
})

describe('allowedOrigins validation', () => {
  test.each(['api.example.com', '/api', '', 'not a url', 'file:///etc/passwd', 'data:text/plain,x', 'https://'])(
    'a bad entry %j throws a TypeError naming the option at attach',
    (entry) => {
      const manager = createTokenManager({ refresh: fetchRefresh(main) })
      managers.push(manager)
      const api = axios.create()
      expect(() => attachAxios(api, manager, { allowedOrigins: [entry] })).toThrow(TypeError)
      expect(() => attachAxios(api, manager, { allowedOrigins: [entry] })).toThrow(/allowedOrigins/)
      // Nothing was attached by the failed calls.
      expect((api.interceptors.request as unknown as { handlers: unknown[] }).handlers.filter(Boolean)).toHaveLength(0)
    },
  )
})
