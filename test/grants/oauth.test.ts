import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  OAuthResponseError,
  RefreshFailedError,
  SessionExpiredError,
  createTokenManager,
  memoryStorage,
  refreshTokenGrant,
  type RefreshTokenGrantOptions,
} from '../../src/index.js'
import { expectWithin, within } from '../helpers/bounds.js'
import { ALL_SECRETS, AT1, AT2, AT3, RT1, RT2, expectNoTokenLeak, recordEvents } from '../helpers/core-harness.js'

interface Received {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
  form: URLSearchParams
  /** Resolves when the client went away before an answer (an aborted request). */
  closedEarly: Promise<void>
}

type Handler = (request: Received, response: ServerResponse) => void

let server: Server
let base: string
let handler: Handler
let received: Received[]
const hanging = new Set<ServerResponse>()

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  response.end(JSON.stringify(body))
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const closedEarly = new Promise<void>((resolve) => res.on('close', () => (res.writableEnded ? undefined : resolve())))
      const request: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, form: new URLSearchParams(body), closedEarly }
      received.push(request)
      handler(request, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const res of hanging) res.destroy()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  received = []
  handler = (_, res) => json(res, 200, { access_token: AT2, token_type: 'Bearer', expires_in: 3600, refresh_token: RT2 })
})

const url = () => `${base}/oauth/token`
const grant = (options: Partial<RefreshTokenGrantOptions> = {}) => refreshTokenGrant({ url: url(), clientId: 'spa', ...options })
const call = (refreshToken: string | null, options: Partial<RefreshTokenGrantOptions> = {}) =>
  grant(options)({ refreshToken, signal: new AbortController().signal })

/** A manager over the grant, signed in with an expired access token. */
async function managerOverServer(options: { attempts?: number; timeoutMs?: number; now?: () => number } = {}) {
  const storage = memoryStorage()
  const manager = createTokenManager({
    refresh: grant(),
    storage,
    retry: { attempts: options.attempts ?? 0, baseDelayMs: 10 },
    refreshTimeoutMs: options.timeoutMs ?? 10_000,
    ...(options.now ? { now: options.now } : {}),
  })
  await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: (options.now ?? Date.now)() - 1 })
  return { manager, storage, events: recordEvents(manager) }
}

describe('refreshTokenGrant request (RFC 6749 §6)', () => {
  it('POSTs a form-encoded grant_type=refresh_token with refresh_token and client_id', async () => {
    await call(RT1)
    expect(received).toHaveLength(1)
    const [request] = received
    expect(request?.method).toBe('POST')
    expect(request?.path).toBe('/oauth/token')
    expect(request?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
    expect(request?.headers.accept).toContain('application/json')
    expect(Object.fromEntries(request?.form ?? [])).toEqual({ grant_type: 'refresh_token', refresh_token: RT1, client_id: 'spa' })
    expect(request?.headers.authorization).toBeUndefined()
  })

  it('encodes refresh tokens with reserved characters correctly', async () => {
    const tricky = 'a+b/c=d&e f%'
    await call(tricky)
    expect(received[0]?.form.get('refresh_token')).toBe(tricky)
  })

  it('without clientId sends no client_id', async () => {
    await call(RT1, { clientId: undefined })
    expect(received[0]?.form.has('client_id')).toBe(false)
    expect(received[0]?.form.get('grant_type')).toBe('refresh_token')
  })

  it('cookie mode (refreshToken null) leaves refresh_token out', async () => {
    await call(null)
    expect(received[0]?.form.has('refresh_token')).toBe(false)
    expect(received[0]?.form.get('client_id')).toBe('spa')
  })

  it('a manager with no tokens refreshes in cookie mode and then works', async () => {
    const manager = createTokenManager({ refresh: grant() })
    expect(await manager.refresh()).toBe(AT2)
    expect(received[0]?.form.has('refresh_token')).toBe(false)
    expect(await manager.getAccessToken()).toBe(AT2)
  })

  it('uses the fetch given in options', async () => {
    const spy = vi.fn<typeof fetch>((input, init) => fetch(input, init))
    await call(RT1, { fetch: spy })
    expect(spy).toHaveBeenCalledTimes(1)
    expect(received).toHaveLength(1)
  })

  it('rejects a missing or empty url with a TypeError', () => {
    expect(() => refreshTokenGrant({ url: '' })).toThrow(TypeError)
    expect(() => refreshTokenGrant(undefined as unknown as RefreshTokenGrantOptions)).toThrow(TypeError)
  })
})

describe('refreshTokenGrant response', () => {
  it('takes the rotated refresh_token and reads expires_in', async () => {
    expect(await call(RT1)).toEqual({ accessToken: AT2, refreshToken: RT2, expiresIn: 3600 })
  })

  it('keeps the old refresh token when the server sends none', async () => {
    handler = (_, res) => json(res, 200, { access_token: AT2, token_type: 'Bearer', expires_in: 60 })
    expect(await call(RT1)).toMatchObject({ accessToken: AT2, refreshToken: RT1, expiresIn: 60 })
  })

  it('reads expires_in sent as a string', async () => {
    handler = (_, res) => json(res, 200, { access_token: AT2, expires_in: '120' })
    expect((await call(RT1)).expiresIn).toBe(120)
  })

  it('through the manager: the rotated token is used next time, a missing one keeps the previous', async () => {
    let n = 0
    handler = (_, res) => {
      n++
      json(res, 200, n === 1 ? { access_token: AT2, refresh_token: RT2 } : { access_token: AT3 })
    }
    const { manager } = await managerOverServer()
    expect(await manager.refresh()).toBe(AT2)
    expect(await manager.refresh()).toBe(AT3)
    expect(await manager.refresh()).toBe(AT3)
    expect(received.map((r) => r.form.get('refresh_token'))).toEqual([RT1, RT2, RT2])
  })

  it('through the manager: expires_in drives the proactive refresh', async () => {
    let clock = Date.UTC(2030, 0, 1)
    handler = (_, res) => json(res, 200, { access_token: received.length === 1 ? AT2 : AT3, expires_in: 120 })
    const { manager } = await managerOverServer({ now: () => clock })
    expect(await manager.getAccessToken()).toBe(AT2)
    clock += 89_000
    expect(await manager.getAccessToken()).toBe(AT2)
    expect(received).toHaveLength(1)
    clock += 1_000
    // Inside the window: the request goes out with AT2 at once; the refresh runs in the background.
    const refreshed = new Promise((resolve) => manager.on('tokens', resolve))
    expect(await manager.getAccessToken()).toBe(AT2)
    await refreshed
    expect(await manager.getAccessToken()).toBe(AT3)
    expect(received).toHaveLength(2)
  })
})

describe('refreshTokenGrant failures through the manager', () => {
  it('400 invalid_grant → SessionExpiredError, tokens cleared, signedOut expired', async () => {
    handler = (_, res) => json(res, 400, { error: 'invalid_grant', error_description: `refresh token ${RT1} was revoked` })
    const { manager, storage, events } = await managerOverServer({ attempts: 2 })
    const error: unknown = await manager.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionExpiredError)
    const cause = (error as SessionExpiredError).cause
    expect(cause).toBeInstanceOf(OAuthResponseError)
    expect(cause).toMatchObject({ status: 400, error: 'invalid_grant' })
    expectNoTokenLeak(error, ALL_SECRETS)
    expect(received).toHaveLength(1) // terminal: not retried
    expect(await storage.get()).toBeNull()
    expect(events.payloads('signedOut')).toEqual([{ reason: 'expired' }])
  })

  it('401 invalid_client → SessionExpiredError', async () => {
    handler = (_, res) => json(res, 401, { error: 'invalid_client' })
    const { manager } = await managerOverServer()
    await expect(manager.refresh()).rejects.toBeInstanceOf(SessionExpiredError)
  })

  it('503 → RefreshFailedError after the retries, tokens kept', async () => {
    handler = (_, res) => json(res, 503, { error: 'temporarily_unavailable' })
    const { manager, storage, events } = await managerOverServer({ attempts: 1 })
    const error: unknown = await manager.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshFailedError)
    expect(error).toMatchObject({ code: 'REFRESH_FAILED' })
    expect((error as RefreshFailedError).cause).toMatchObject({ status: 503 })
    expectNoTokenLeak(error, ALL_SECRETS)
    expect(received).toHaveLength(2)
    expect(await storage.get()).toMatchObject({ accessToken: AT1, refreshToken: RT1 })
    expect(events.count('signedOut')).toBe(0)
  })

  it.each([
    ['200 with an HTML page (captive portal)', 200, 'text/html', '<!doctype html><title>Sign in to Wi-Fi</title>'],
    ['200 with JSON lacking access_token', 200, 'application/json', JSON.stringify({ token_type: 'Bearer' })],
    ['200 with invalid JSON', 200, 'application/json', '{"access_token": '],
    ['502 with an HTML error page', 502, 'text/html', '<html><body>Bad gateway</body></html>'],
  ])('%s → transient RefreshFailedError, tokens kept', async (_, status, type, body) => {
    handler = (__, res) => {
      res.writeHead(status, { 'content-type': type })
      res.end(body)
    }
    const { manager, storage } = await managerOverServer()
    const error: unknown = await manager.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshFailedError)
    expect((error as RefreshFailedError).cause).toBeInstanceOf(OAuthResponseError)
    expect((error as RefreshFailedError).cause).toMatchObject({ status })
    expectNoTokenLeak(error, ALL_SECRETS)
    expect(await storage.get()).toMatchObject({ accessToken: AT1 })
  })

  it('a server that hangs → REFRESH_TIMEOUT from the manager, and the HTTP request is aborted', async () => {
    handler = (_, res) => void hanging.add(res)
    const { manager, storage } = await managerOverServer({ timeoutMs: 200 })
    const started = Date.now()
    const error: unknown = await manager.refresh().catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'RefreshFailedError', code: 'REFRESH_TIMEOUT' })
    expectWithin(started, 10_000, 'a refresh with refreshTimeoutMs 200')
    expectNoTokenLeak(error, ALL_SECRETS)
    expect(received).toHaveLength(1)
    // the signal reached fetch: the connection is dropped rather than left open
    await within(5_000, received[0]!.closedEarly, 'the aborted refresh\'s connection to close')
    expect(await storage.get()).toMatchObject({ accessToken: AT1 })
  })

  it('a refused connection (network error) is transient', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `http://127.0.0.1:${port}/token` }), retry: { attempts: 0, baseDelayMs: 0 } })
    await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1 })
    const error: unknown = await manager.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshFailedError)
    expectNoTokenLeak(error, ALL_SECRETS)
  })
})

describe('OAuthResponseError message', () => {
  it('names the URL and the status and the OAuth error, never a token', async () => {
    handler = (_, res) => json(res, 400, { error: 'invalid_grant', error_description: `token ${RT1} reused`, refresh_token: RT2 })
    const error: unknown = await call(RT1).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OAuthResponseError)
    const message = (error as Error).message
    expect(message).toContain(url())
    expect(message).toContain('400')
    expect(message).toContain('invalid_grant')
    expectNoTokenLeak(error, ALL_SECRETS)
  })

  it('names URL and status for a 503 without a JSON body', async () => {
    handler = (_, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' })
      res.end(`upstream down while refreshing ${RT1}`)
    }
    const error: unknown = await call(RT1).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OAuthResponseError)
    expect((error as Error).message).toContain(url())
    expect((error as Error).message).toContain('503')
    expect((error as OAuthResponseError).status).toBe(503)
    expectNoTokenLeak(error, ALL_SECRETS)
  })
})
