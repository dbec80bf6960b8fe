// The default build (dist/, what every bundler but Metro resolves) carries no
// origin parser: the WHATWG `URL` of browsers, Node, Bun and Deno judges
// origins. Under React Native's own URL (the real files of 0.73.11 and 0.88.1),
// that is, a React Native app that resolved the package without the
// "react-native" export condition and has no URL polyfill, it cannot tell where
// a request goes: it must say so clearly, naming the fix, and send nothing
// rather than guess. The React Native build, which has the parser:
// origin-react-native.test.ts and test/runtime/hermes.test.ts.
import axios from 'axios'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { createTokenManager, type TokenManager } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { createAuthLink } from '../../src/integrations/apollo/index.js'
import { createAuthBaseQuery } from '../../src/integrations/rtk-query/index.js'
import { createAuthConfig } from '../../src/integrations/urql/index.js'
import { errorText, fetchRefresh, rejection, startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { reactNativeUrl, type ReactNativeVersion } from '../runtime/react-native/metro-build.js'

const WhatwgURL = globalThis.URL
const reactNative = {} as Record<ReactNativeVersion, typeof URL>
let server: TokenServer
let manager: TokenManager

beforeAll(async () => {
  server = await startTokenServer()
  for (const version of ['0.73.11', '0.88.1'] as const) reactNative[version] = (await reactNativeUrl(version)).URL
}, 60_000)
afterAll(() => server?.close())
beforeEach(async () => {
  server.reset()
  manager = createTokenManager({ refresh: fetchRefresh(server) })
  await manager.setTokens(server.issue())
})
afterEach(() => {
  vi.unstubAllGlobals()
  manager.dispose()
})

/** The error names both fixes, and no token. */
function expectTheFix(error: unknown): void {
  expect(error).toBeInstanceOf(TypeError)
  expect((error as Error).message).toMatch(/URL is not the WHATWG parser/)
  expect((error as Error).message).toMatch(/"react-native" export condition/)
  expect((error as Error).message).toMatch(/react-native-url-polyfill/)
  for (const token of server.issued) expect(errorText(error)).not.toContain(token)
}

function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw, none came')
}

describe.each(['0.73.11', '0.88.1'] as const)("React Native %s's URL, the default build", (version) => {
  test('attachAxios throws when attached, naming the fix', () => {
    vi.stubGlobal('URL', reactNative[version])
    const api = axios.create({ baseURL: server.url })
    expectTheFix(thrown(() => attachAxios(api, manager)))
    // Nothing was attached: a request goes as the app sent it.
    expect(api.interceptors.request.handlers?.filter(Boolean)).toHaveLength(0)
  })

  test('createAuthFetch throws when created, naming the fix', () => {
    vi.stubGlobal('URL', reactNative[version])
    expectTheFix(thrown(() => createAuthFetch(manager, { allowedOrigins: [server.url] })))
  })

  test('the integrations that judge origins throw when created too (Apollo, urql, RTK Query)', () => {
    vi.stubGlobal('URL', reactNative[version])
    expectTheFix(thrown(() => createAuthLink(manager)))
    expectTheFix(thrown(() => createAuthConfig(manager, { allowedOrigins: [server.url] })))
    expectTheFix(thrown(() => createAuthBaseQuery(manager, { baseUrl: server.url })))
  })

  test('a URL that stops being WHATWG after attaching: each request rejects with the fix, and nothing reaches the server', async () => {
    const api = axios.create({ baseURL: server.url })
    attachAxios(api, manager)
    const authFetch = createAuthFetch(manager, { allowedOrigins: [server.url] })
    expect((await api.get('/api/me')).status).toBe(200)
    expect((await authFetch(`${server.url}/api/me`)).status).toBe(200)
    expect(server.requests('/api/me').map((entry) => entry.authorization)).toEqual([expect.stringMatching(/^Bearer /), expect.stringMatching(/^Bearer /)])
    server.reset()

    // URLs not judged before (an answer the WHATWG parser gave stays: the origin of a URL does not change).
    vi.stubGlobal('URL', reactNative[version])
    expectTheFix(await rejection(api.get('/api/me?axios')))
    expectTheFix(await rejection(api.get('HTTPS://elsewhere.example/api/me')))
    expectTheFix(await rejection(authFetch(`${server.url}/api/me?fetch`)))
    expect(server.log).toEqual([])

    // A WHATWG URL again (react-native-url-polyfill installed late): the same adapters judge and send.
    vi.stubGlobal('URL', WhatwgURL)
    expect((await api.get('/api/me?axios')).status).toBe(200)
    expect((await authFetch(`${server.url}/api/me?fetch`)).status).toBe(200)
    expect(server.requests('/api/me').map((entry) => entry.authorization)).toEqual([expect.stringMatching(/^Bearer /), expect.stringMatching(/^Bearer /)])
  })
})
