// DESIGN 8 across redirects, for attachAxios in Node (axios's http adapter and
// follow-redirects): the token never reaches an origin that is not allowed,
// whatever the header's name. Two real servers on two ports (two origins).
import axios, { type AxiosInstance } from 'axios'
import { beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { createTokenManager } from '../../src/index.js'
import { attachAxios, type AttachAxiosOptions } from '../../src/adapters/axios.js'
import { fetchRefresh, type TokenServer } from '../helpers/token-server.js'
import { useTwoTokenServers } from '../helpers/two-servers.js'

const { servers, managers } = useTwoTokenServers()
let server: TokenServer
let other: TokenServer
beforeAll(() => void ({ server, other } = servers))

async function signedIn(attach: AttachAxiosOptions = {}) {
  const manager = createTokenManager({ refresh: fetchRefresh(server) })
  managers.push(manager)
  const tokens = server.issue()
  await manager.setTokens(tokens)
  const api: AxiosInstance = axios.create({ baseURL: server.url })
  attachAxios(api, manager, attach)
  return { manager, tokens, api }
}

const leaks = (target: TokenServer) =>
  target.log.filter((entry) => Object.values(entry.headers).some((value) => server.issued.some((token) => String(value).includes(token))))

const moved = (to: string, code = 307) => `/api/moved?redirect=${encodeURIComponent(to)}&code=${code}`

describe.each([
  ['Authorization', 'Bearer'],
  ['X-Auth-Token', ''],
])('header %s', (header, scheme) => {
  beforeEach(() => {
    server.state.authHeader = header.toLowerCase()
    server.state.authScheme = scheme
  })

  test.each([301, 302, 303, 307, 308])(`regression: token across redirects — a %i from the allowed API to another origin does not carry ${header}`, async (code) => {
    const { api } = await signedIn({ header, scheme })
    const res = await api.get(moved(`${other.url}/public/echo`, code))
    expect(res.data).toEqual({ authorization: null })
    expect(server.requests('/api/moved')[0]?.headers[header.toLowerCase()]).toBeTruthy()
    expect(other.log).toHaveLength(1)
    expect(leaks(other)).toEqual([])
  })

  test('a redirect within the allowed origin keeps the token', async () => {
    const { api, tokens } = await signedIn({ header, scheme })
    expect((await api.get(moved(`${server.url}/api/data`))).status).toBe(200)
    expect(server.requests('/api/data')[0]?.headers[header.toLowerCase()]).toBe(scheme ? `${scheme} ${tokens.accessToken}` : tokens.accessToken)
  })

  test('a redirect to another allowed origin carries the token there', async () => {
    const { api, tokens } = await signedIn({ header, scheme, allowedOrigins: [other.url] })
    await api.get(moved(`${other.url}/public/echo`))
    expect(other.log[0]?.headers[header.toLowerCase()]).toBe(scheme ? `${scheme} ${tokens.accessToken}` : tokens.accessToken)
  })

  test('a chain allowed → foreign → allowed carries the token on the allowed hops only', async () => {
    const { api } = await signedIn({ header, scheme })
    const back = `${other.url}/public/hop?redirect=${encodeURIComponent(`${server.url}/api/data`)}&code=302`
    expect((await api.get(moved(back))).status).toBe(200)
    expect(leaks(other)).toEqual([])
    expect(server.requests('/api/data')[0]?.headers[header.toLowerCase()]).toBeTruthy()
  })
})

test('the app’s own beforeRedirect still runs, after the token was dropped', async () => {
  const seen: (string | undefined)[] = []
  const { api } = await signedIn({ header: 'X-Auth-Token', scheme: '' })
  await api.get(moved(`${other.url}/public/echo`), {
    beforeRedirect: (options: { href?: string; headers?: Record<string, unknown> }) => {
      seen.push(options.href)
      expect(Object.keys(options.headers ?? {}).map((name) => name.toLowerCase())).not.toContain('x-auth-token')
    },
  } as never)
  expect(seen).toEqual([`${other.url}/public/echo`])
  expect(leaks(other)).toEqual([])
})

describe('a config sent again (api.request(res.config), as axios-retry does)', () => {
  test('regression: after a refresh, its redirect hops carried the token of its first send, not the new one', async () => {
    const { api, manager, tokens } = await signedIn()
    const first = await api.get(moved(`${server.url}/api/data`))
    const renewed = await manager.refresh()
    expect(renewed).not.toBe(tokens.accessToken)
    await api.request(first.config)
    expect(server.requests('/api/data').map((entry) => entry.headers.authorization)).toEqual([`Bearer ${tokens.accessToken}`, `Bearer ${renewed}`])
  })

  test('regression: sent again with skipAuth and no headers, its redirect hops carried the token', async () => {
    const { api } = await signedIn()
    const first = await api.get(moved(`${server.url}/public/echo`))
    expect(first.data).toEqual({ authorization: expect.stringMatching(/^Bearer /) })
    const again = await api.request({ ...first.config, headers: {}, skipAuth: true })
    expect(again.data).toEqual({ authorization: null })
  })
})
