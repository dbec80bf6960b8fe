// DESIGN 12 through the adapters: React Native's AbortController (the
// abort-controller package, which RN 0.73 installs as the global) has no
// `signal.reason`. A timeout must still be REFRESH_TIMEOUT, a disposal DISPOSED,
// and a caller's abort the client's own error, in both adapters.
import { AbortController as RNAbortController, AbortSignal as RNAbortSignal } from 'abort-controller'
import axios from 'axios'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { AuthError, createTokenManager, type TokenManager, type TokenManagerOptions } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { within } from '../helpers/bounds.js'
import { rejection, startTokenServer, type TokenServer } from '../helpers/token-server.js'

let server: TokenServer
const managers: TokenManager[] = []

beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => {
  server.reset()
  vi.stubGlobal('AbortController', RNAbortController)
  vi.stubGlobal('AbortSignal', RNAbortSignal)
})
afterEach(() => {
  vi.unstubAllGlobals()
  for (const manager of managers.splice(0)) manager.dispose()
})

/** A refresh that answers only by failing when its signal aborts, as RN's fetch does (it listens for 'abort'). */
const hangingRefresh: TokenManagerOptions['refresh'] = ({ signal }) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('Aborted'), { name: 'AbortError' }))))

/** The two adapters, each returning how a GET to the token server settles. */
const clients = {
  axios: (manager: TokenManager, signal?: AbortSignal) => {
    const api = axios.create({ baseURL: server.url })
    attachAxios(api, manager)
    return rejection(api.get('/api/data', { signal: signal as never }))
  },
  fetch: (manager: TokenManager, signal?: AbortSignal) => rejection(createAuthFetch(manager, { allowedOrigins: [server.url] })(`${server.url}/api/data`, { signal })),
}

describe.each(['axios', 'fetch'] as const)('%s with React Native’s AbortController', (name) => {
  test('the premise: its signal has no reason', () => {
    const controller = new AbortController()
    controller.abort()
    expect(controller.signal).toBeInstanceOf(RNAbortSignal)
    expect(controller.signal.reason).toBeUndefined()
  })

  test('a refresh that does not answer rejects the request with REFRESH_TIMEOUT, not REFRESH_FAILED', async () => {
    const manager = createTokenManager({ refresh: hangingRefresh, refreshTimeoutMs: 200, retry: { attempts: 0 } })
    managers.push(manager)
    await manager.setTokens({ accessToken: 'expired', expiresAt: Date.now() - 1_000 })
    const error = await within(5_000, clients[name](manager))
    expect(error).toBeInstanceOf(AuthError)
    expect((error as AuthError).code).toBe('REFRESH_TIMEOUT')
    expect(server.requests('/api/data')).toHaveLength(0)
  })

  test('dispose() while the request waits for a storage read rejects it with DISPOSED, not a bare AbortError', async () => {
    const manager = createTokenManager({ refresh: hangingRefresh, storage: { get: () => new Promise(() => {}), set() {}, clear() {} } })
    managers.push(manager)
    const pending = clients[name](manager)
    await new Promise((resolve) => setImmediate(resolve)) // it has asked the manager for a token
    manager.dispose()
    const error = await within(5_000, pending)
    expect(error).toBeInstanceOf(AuthError)
    expect((error as AuthError).code).toBe('DISPOSED')
  })

  test('the caller’s own abort while waiting rejects as its client does', async () => {
    const manager = createTokenManager({ refresh: hangingRefresh, refreshTimeoutMs: 10_000 })
    managers.push(manager)
    await manager.setTokens({ accessToken: 'expired', expiresAt: Date.now() - 1_000 })
    const controller = new AbortController()
    const pending = clients[name](manager, controller.signal)
    await new Promise((resolve) => setImmediate(resolve))
    controller.abort()
    const error = await within(5_000, pending)
    if (name === 'axios') expect(axios.isCancel(error)).toBe(true)
    else expect((error as Error).name).toBe('AbortError')
  })
})
