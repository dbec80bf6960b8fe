// DESIGN 7 for axios's CancelToken (still widely used beside AbortSignal): a
// request cancelled while it waits for the shared refresh rejects at once, as
// axios rejects a cancelled request, and the refresh goes on for the others.
import axios, { type AxiosInstance } from 'axios'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { createTokenManager, type TokenManager } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { flush } from '../helpers/core-harness.js'
import { expectWithin, until, within } from '../helpers/bounds.js'
import { fetchRefresh, rejection, startTokenServer, type TokenServer } from '../helpers/token-server.js'

let server: TokenServer
let manager: TokenManager
let api: AxiosInstance

beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(async () => {
  server.reset()
  manager = createTokenManager({ refresh: fetchRefresh(server) })
  await manager.setTokens(server.issue())
  api = axios.create({ baseURL: server.url })
  attachAxios(api, manager)
  server.expireAll()
  server.setRefreshMode('slow', 1_500) // the refresh outlasts every cancellation below
})
afterEach(() => {
  manager.dispose()
})

/** Resolves when the manager has judged a request's 401: it now waits for the refresh. */
const nextUnauthorized = () => new Promise<void>((resolve) => {
  const off = manager.on('unauthorized', () => {
    off()
    resolve()
  })
})

describe('CancelToken', () => {
  test('regression: axios CancelToken is ignored while a request waits for a refresh (it settled 1.5 s after being cancelled at 0.1 s)', async () => {
    const source = axios.CancelToken.source()
    const judged = nextUnauthorized()
    const cancelled = rejection(api.get('/api/data', { cancelToken: source.token }))
    const other = api.get('/api/other')
    await judged // its 401 came back; it waits for the refresh
    const started = Date.now()
    source.cancel('user left the page')
    const error = await within(1_000, cancelled, 'the cancelled request')
    expectWithin(started, 500, 'the cancellation')
    expect(axios.isCancel(error)).toBe(true)
    expect((error as Error).message).toBe('user left the page')
    expect(manager.isRefreshing).toBe(true) // the shared refresh goes on
    expect((await other).status).toBe(200)
    expect(server.requests('/api/data')).toHaveLength(1) // never retried
    expect(server.stats.refreshCalls).toBe(1)
  })

  test('a request queued before sending (the refresh in flight, its token expired) is cancelled at once; nothing is sent', async () => {
    const first = api.get('/api/first')
    await until(() => manager.isRefreshing, 5_000, 'the refresh to start')
    const source = axios.CancelToken.source()
    const cancelled = rejection(api.get('/api/queued', { cancelToken: source.token }))
    await flush() // it has gone through axios's chain and waits for the token
    const started = Date.now()
    source.cancel('not needed')
    expect(axios.isCancel(await within(1_000, cancelled))).toBe(true)
    expectWithin(started, 500, 'the cancellation')
    expect((await first).status).toBe(200)
    expect(server.requests('/api/queued')).toHaveLength(0)
  })

  test('a CancelToken and an AbortSignal on one request: either cancels it', async () => {
    const source = axios.CancelToken.source()
    const controller = new AbortController()
    const judged = nextUnauthorized()
    const cancelled = rejection(api.get('/api/data', { cancelToken: source.token, signal: controller.signal }))
    await judged
    controller.abort()
    expect(axios.isCancel(await within(1_000, cancelled))).toBe(true)
  })

  test('a token cancelled before the request rejects with its reason and sends nothing', async () => {
    const source = axios.CancelToken.source()
    source.cancel('too late')
    const error = await rejection(api.get('/api/never', { cancelToken: source.token }))
    expect(axios.isCancel(error)).toBe(true)
    expect(server.requests('/api/never')).toHaveLength(0)
  })
})
