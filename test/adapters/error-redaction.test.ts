// DESIGN 8: no copy of a token where a logger or an error reporter looks. The
// refresh function is the README's own (axios, the same instance, skipAuth), over
// a real token server; its AxiosError carries the request it sent, refresh token
// included, in `config.data`. The SDK's errors must print and serialize without it.
import { Console } from 'node:console'
import { Writable } from 'node:stream'
import { inspect } from 'node:util'
import axios, { type AxiosInstance } from 'axios'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { AuthError, createTokenManager, RefreshFailedError, SessionExpiredError, type TokenManager } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { rejection, startTokenServer, type TokenServer } from '../helpers/token-server.js'

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

/** The README's "Writing your own refresh function", as written there. */
async function readmeSetup() {
  const api: AxiosInstance = axios.create({ baseURL: server.url })
  const manager = createTokenManager({
    retry: { attempts: 0 },
    async refresh({ refreshToken, signal }) {
      const { data } = await api.post('/auth/token', { refreshToken }, { skipAuth: true, signal })
      return { accessToken: data.accessToken, refreshToken: data.refreshToken }
    },
  })
  managers.push(manager)
  attachAxios(api, manager)
  const tokens = server.issue()
  await manager.setTokens(tokens)
  server.expireAll()
  return { api, manager, tokens }
}

/** What `console.error(error)` writes, through a real Console. */
function consoleErrorOf(error: unknown): string {
  let text = ''
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk)
      done()
    },
  })
  new Console({ stdout: sink, stderr: sink }).error(error)
  return text
}

/** Every way a logger or reporter turns the error into text. */
const printed = (error: unknown) => [
  consoleErrorOf(error),
  inspect(error, { depth: 20 }),
  JSON.stringify(error),
  JSON.stringify((error as Error).cause),
  String(error),
  (error as Error).stack ?? '',
]

describe('errors the SDK surfaces print and serialize without tokens', () => {
  test('regression: console.error of a RefreshFailedError from the README axios refresh function does not print the refresh token (cause.config.data)', async () => {
    const { api, tokens } = await readmeSetup()
    server.setRefreshMode('503')
    const error = await rejection(api.get('/api/data'))
    expect(error).toBeInstanceOf(RefreshFailedError)
    // What the refresh request carried, to be sure the check below could fail.
    expect(server.requests('/auth/token')[0]?.body.toString()).toContain(tokens.refreshToken)
    for (const text of printed(error)) {
      expect(text).not.toContain(tokens.refreshToken)
      expect(text).not.toContain(tokens.accessToken)
    }
    // The cause still says what failed, and is still the client's error type.
    const cause = (error as AuthError).cause as { status?: number; code?: string; response?: { status: number; data: unknown } }
    expect(axios.isAxiosError(cause)).toBe(true)
    expect(cause).toBeInstanceOf(Error)
    expect(cause.status).toBe(503)
    expect(cause.code).toBe('ERR_BAD_RESPONSE')
    expect(cause.response).toEqual({ status: 503, statusText: 'Service Unavailable', data: { error: 'temporarily_unavailable' } })
    expect(cause).not.toHaveProperty('config')
    expect(cause).not.toHaveProperty('request')
  })

  test('a SessionExpiredError from the same function (400) prints without the refresh token; isSessionExpired still read the status', async () => {
    const { api, manager, tokens } = await readmeSetup()
    server.setRefreshMode('invalid_grant')
    const error = await rejection(api.get('/api/data'))
    expect(error).toBeInstanceOf(SessionExpiredError)
    expect(manager.getState().status).toBe('signedOut')
    for (const text of printed(error)) expect(text).not.toContain(tokens.refreshToken)
    expect((error as AuthError).cause).toMatchObject({ status: 400, response: { status: 400, data: { error: 'invalid_request' } } })
  })

  test('the refreshFailed event carries the same redacted error', async () => {
    const { api, manager, tokens } = await readmeSetup()
    const seen: unknown[] = []
    manager.on('refreshFailed', ({ error }) => seen.push(error))
    server.setRefreshMode('503')
    await rejection(api.get('/api/data'))
    expect(seen).toHaveLength(1)
    for (const text of printed(seen[0])) expect(text).not.toContain(tokens.refreshToken)
  })
})

describe('no copy of a token outside the header', () => {
  test('regression: the axios config carries no copy of the token outside its header (it held the raw token, then a stamp)', async () => {
    const api = axios.create({ baseURL: server.url })
    const manager = createTokenManager({ refresh: async () => ({ accessToken: 'refreshed-SECRET-77' }) })
    managers.push(manager)
    attachAxios(api, manager)
    const tokens = server.issue()
    await manager.setTokens(tokens)
    const res = await api.get('/api/data')
    const error = await rejection(api.get('/api/always401'))
    for (const config of [res.config, (error as { config: typeof res.config }).config]) {
      const { headers, ...rest } = config
      expect(headers.get('authorization')).toMatch(/^Bearer /)
      for (const token of [tokens.accessToken, 'refreshed-SECRET-77']) expect(inspect(rest, { depth: 10 })).not.toContain(token)
      expect(Object.keys(rest).filter((key) => key.toLowerCase().includes('silent'))).toEqual([])
    }
  })
})
