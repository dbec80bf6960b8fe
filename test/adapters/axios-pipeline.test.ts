// DESIGN 3 for axios: the caller sees exactly what a first-try success gives.
// The app's own interceptors and transforms apply once, whichever side of
// attachAxios they were added on; the retry re-sends the prepared request.
// Over a real token server; the first attempt of every request meets a 401.
import axios, { type AxiosInstance, type AxiosResponse } from 'axios'
import { beforeAll, describe, expect, test } from 'vitest'
import { createTokenManager } from '../../src/index.js'
import { attachAxios, type AttachAxiosOptions } from '../../src/adapters/axios.js'
import { fetchRefresh, rejection, type EchoBody, type TokenServer } from '../helpers/token-server.js'
import { useTwoTokenServers } from '../helpers/two-servers.js'

const { servers, managers } = useTwoTokenServers()
let server: TokenServer
let other: TokenServer
beforeAll(() => void ({ server, other } = servers))

/** An instance with the app's set-up `before` attachAxios and `after` it; the server then expires every token. */
async function app(setup: { before?: (api: AxiosInstance) => void; after?: (api: AxiosInstance) => void; attach?: AttachAxiosOptions; baseURL?: string } = {}) {
  const manager = createTokenManager({ refresh: fetchRefresh(server) })
  managers.push(manager)
  const tokens = server.issue()
  await manager.setTokens(tokens)
  const api = axios.create({ baseURL: setup.baseURL ?? server.url })
  setup.before?.(api)
  attachAxios(api, manager, setup.attach)
  setup.after?.(api)
  server.expireAll()
  return { api, manager, tokens }
}

describe('the app’s interceptors apply once', () => {
  test('regression: a response interceptor res => res.data added after attachAxios — the caller gets the data after a refresh, not undefined', async () => {
    let calls = 0
    const { api } = await app({
      after: (api) =>
        api.interceptors.response.use((res) => {
          calls++
          return res.data as AxiosResponse
        }),
    })
    const data = (await api.get('/api/data')) as unknown
    expect(data).toEqual({ sub: 'alice', gen: expect.any(Number), path: '/api/data' })
    expect(calls).toBe(1)
    expect(server.requests('/api/data').map((entry) => entry.status)).toEqual([401, 200])
  })

  test('the same interceptor added before attachAxios: the same data, once', async () => {
    let calls = 0
    const { api } = await app({
      before: (api) =>
        api.interceptors.response.use((res) => {
          calls++
          return res.data as AxiosResponse
        }),
    })
    expect((await api.get('/api/data')) as unknown).toEqual({ sub: 'alice', gen: expect.any(Number), path: '/api/data' })
    expect(calls).toBe(1)
  })

  test('regression: a request interceptor that rewrites config.url — the retry goes to /api/data, not /api/api/data', async () => {
    let calls = 0
    const { api } = await app({
      baseURL: server.url,
      after: (api) =>
        api.interceptors.request.use((config) => {
          calls++
          config.url = `/api${config.url}`
          return config
        }),
    })
    const res = await api.get('/data')
    expect(res.status).toBe(200)
    expect(calls).toBe(1)
    expect(server.log.map((entry) => entry.path).filter((path) => path !== '/auth/token')).toEqual(['/api/data', '/api/data'])
  })

  test('an error interceptor added before attachAxios never sees the 401 that a refresh answered', async () => {
    const seen: unknown[] = []
    const { api } = await app({
      before: (api) =>
        api.interceptors.response.use(undefined, (error: unknown) => {
          seen.push(axios.isAxiosError(error) ? error.response?.status : error)
          throw error
        }),
    })
    expect((await api.get('/api/data')).status).toBe(200)
    expect(seen).toEqual([])
    // A 401 that stays a 401 after the retry reaches it once.
    await rejection(api.get('/api/always401'))
    expect(seen).toEqual([401])
  })

  test('regression: an app interceptor that runs after the SDK’s and points the request at another origin does not carry the token', async () => {
    // Added before attachAxios, so axios runs it after the SDK's own request interceptor.
    const { api } = await app({
      before: (api) =>
        api.interceptors.request.use((config) => {
          if (config.url === '/public/echo') config.baseURL = other.url
          return config
        }),
    })
    const res = await api.get('/public/echo')
    expect(res.data).toEqual({ authorization: null })
    expect(other.log).toHaveLength(1)
    expect(other.log[0]?.authorization).toBeNull()
  })
})

describe('the app’s transforms apply once', () => {
  test('regression: a custom transformRequest is applied once — the server gets the whole body on the retry', async () => {
    let calls = 0
    const { api } = await app()
    const res = await api.post<EchoBody>(
      '/api/echo',
      { order: 42, items: ['a', 'b'] },
      {
        headers: { 'content-type': 'text/plain' },
        // Serialises an object; given its own output (a string) again, it would send "undefined;undefined".
        transformRequest: (data: { order: number; items: string[] }) => {
          calls++
          return `${data.order};${data.items}`
        },
      },
    )
    expect(res.status).toBe(200)
    expect(calls).toBe(1)
    expect(server.requests('/api/echo').map((entry) => entry.body.toString())).toEqual(['42;a,b', '42;a,b'])
  })

  test('a custom transformResponse runs once, on the answer the caller gets', async () => {
    const seen: number[] = []
    const { api } = await app()
    const res = await api.get('/api/data', {
      transformResponse: [
        (data: string, _headers, status?: number) => {
          seen.push(status ?? 0)
          return { wrapped: JSON.parse(data) as unknown }
        },
      ],
    })
    expect(res.data).toEqual({ wrapped: { sub: 'alice', gen: expect.any(Number), path: '/api/data' } })
    expect(seen).toEqual([200])
  })

  test('a shouldRefresh of its own sees the transformed data on a copy; the caller’s data is transformed once', async () => {
    const calls: number[] = []
    const { api } = await app({
      attach: {
        shouldRefresh: async (error) => {
          calls.push(error.response?.status ?? 0)
          return (error.response?.data as { error?: string } | undefined)?.error === 'invalid_token'
        },
      },
    })
    let transforms = 0
    const res = await api.get('/api/data', {
      transformResponse: [
        (data: string) => {
          transforms++
          return JSON.parse(data) as unknown
        },
      ],
    })
    expect(res.data).toEqual({ sub: 'alice', gen: expect.any(Number), path: '/api/data' })
    expect(calls).toEqual([401]) // the retry is not judged again
    expect(transforms).toBe(2) // once on the 401's copy for shouldRefresh, once by axios on the answer
  })
})

describe('GraphQL: an UNAUTHENTICATED 200 (DESIGN 15)', () => {
  const unauthenticated = async (error: { response?: { data?: unknown } }) =>
    !!(error.response?.data as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED')

  test('an async shouldRefresh refreshes once on a 200 with errors, and the caller gets the retry’s data', async () => {
    const { api } = await app({ attach: { shouldRefresh: unauthenticated } })
    const res = await api.post('/graphql', { query: '{ me { sub } }' })
    expect(res.data).toEqual({ data: { me: { sub: 'alice' } } })
    expect(server.requests('/graphql')).toHaveLength(2)
    expect(server.stats.refreshCalls).toBe(1)
  })

  test('the stale-401 rule: concurrent UNAUTHENTICATED answers, some after the refresh, cause one refresh', async () => {
    const { api } = await app({ attach: { shouldRefresh: unauthenticated } })
    const results = await Promise.all([0, 0, 0, 200, 400].map((delay) => api.post(`/graphql?delay=${delay}`, {})))
    for (const res of results) expect(res.data).toEqual({ data: { me: { sub: 'alice' } } })
    expect(server.stats.refreshCalls).toBe(1)
  })
})

describe('a config sent again', () => {
  test('api.request(error.config), as axios-retry does, is handled once: one token, one retry, no wrapper of a wrapper', async () => {
    const { api } = await app()
    const error = await rejection(api.get('/api/always401'))
    expect(server.requests('/api/always401')).toHaveLength(2)
    const config = (error as { config: Parameters<AxiosInstance['request']>[0] }).config
    await rejection(api.request(config))
    // Again one try and one retry: not two retries nested in each other.
    expect(server.requests('/api/always401')).toHaveLength(4)
    expect(server.stats.refreshCalls).toBe(2)
  })

  test('the same config sent again with skipAuth goes without a token', async () => {
    const { api } = await app()
    const res = await api.get('/public/echo')
    const again = await api.request({ ...res.config, headers: {}, skipAuth: true })
    expect(again.data).toEqual({ authorization: null })
  })
})

describe('an adapter that rejects with a value that is not an Error', () => {
  // An app's own adapter (a mock, an offline queue) may reject with anything, undefined included.
  // axios hands that value to the caller; the SDK must too, not turn it into a resolved undefined.
  const rejectsWithUndefined = () => Promise.reject(undefined)

  test('regression: hot path (a token at hand) — the caller gets the adapter’s rejection, undefined', async () => {
    const { api, manager } = await app()
    await manager.setTokens(server.issue())
    const outcome = await api.get('/api/data', { adapter: rejectsWithUndefined }).then(
      () => 'resolved',
      (reason: unknown) => ({ reason }),
    )
    expect(outcome).toEqual({ reason: undefined })
  })

  test('regression: slow path (a custom shouldRefresh) — the caller gets the rejection, not a TypeError about an undefined response', async () => {
    const { api, manager } = await app({ attach: { shouldRefresh: (error) => error.response?.status === 401 } })
    await manager.setTokens(server.issue())
    const outcome = await api.get('/api/data', { adapter: rejectsWithUndefined }).then(
      () => 'resolved',
      (reason: unknown) => ({ reason }),
    )
    expect(outcome).toEqual({ reason: undefined })
  })
})
