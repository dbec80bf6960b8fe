// A real node:http token server for adapter tests: test JWTs (HS256 or unsigned)
// with iat/exp, opaque refresh tokens with strict rotation and reuse detection
// (RFC 9700 §4.14.2, grace 0), protected routes under /api/, and a request log
// that records the Authorization header and the raw body of every request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHmac, randomBytes } from 'node:crypto'
import type { RefreshFn, TokenSet } from '../../src/index.js'

/** `repeat`: answers with the same access and refresh tokens again (a server that does not really rotate). */
export type RefreshMode = 'ok' | 'invalid_grant' | '503' | 'hang' | 'slow' | 'repeat'

export interface TokenServerOptions {
  /** 'HS256' signs the access tokens; 'none' issues unsigned JWTs (alg none). @default 'HS256' */
  alg?: 'HS256' | 'none'
  /** Access token lifetime in seconds (the JWT's exp - iat). @default 900 */
  accessTtlSec?: number
  /** Latency of a successful refresh in 'ok' mode. @default 20 */
  refreshLatencyMs?: number
  /** The header (lower case) and scheme a protected route reads the token from. @default authorization / Bearer */
  authHeader?: string
  authScheme?: string
}

export interface LoggedRequest {
  method: string
  /** The path without the query. */
  path: string
  query: URLSearchParams
  /** The Authorization header as received, or null. */
  authorization: string | null
  headers: IncomingMessage['headers']
  body: Buffer
  /** Filled when the answer is sent. */
  status?: number
}

export interface TokenServerStats {
  refreshCalls: number
  reuseDetected: number
  unauthorized: number
  authorized: number
}

export interface EchoBody {
  method: string
  contentType: string | null
  /** The raw request body, base64. */
  body: string
  headers: IncomingMessage['headers']
}

const b64u = (value: string | Buffer) => Buffer.from(value).toString('base64url')
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Mints a test JWT; `secret` null makes an unsigned one (alg none, empty signature). */
export function mintJwt(claims: Record<string, unknown>, secret: Buffer | null): string {
  const head = b64u(JSON.stringify({ alg: secret ? 'HS256' : 'none', typ: 'JWT' }))
  const body = b64u(JSON.stringify(claims))
  const sig = secret ? createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url') : ''
  return `${head}.${body}.${sig}`
}

function verifyJwt(token: string, secret: Buffer | null): Record<string, unknown> | null {
  const [head, body, sig, ...rest] = token.split('.')
  if (head === undefined || body === undefined || sig === undefined || rest.length) return null
  const expected = secret ? createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url') : ''
  if (sig !== expected) return null
  try {
    const alg = (JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: unknown }).alg
    if (alg !== (secret ? 'HS256' : 'none')) return null // algorithm pinned
    return JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>
  } catch {
    return null
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function parseForm(body: Buffer, contentType: string): Record<string, unknown> {
  const text = body.toString()
  if (!text) return {}
  if (contentType.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text))
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return {}
  }
}

export async function startTokenServer(options: TokenServerOptions = {}) {
  const secret = options.alg === 'none' ? null : randomBytes(32)
  const state = {
    accessTtlSec: options.accessTtlSec ?? 900,
    refreshLatencyMs: options.refreshLatencyMs ?? 20,
    refreshMode: 'ok' as RefreshMode,
    /** Access tokens of an older generation are rejected (expireAll). */
    generation: 1,
    authHeader: (options.authHeader ?? 'authorization').toLowerCase(),
    authScheme: options.authScheme ?? 'Bearer',
  }
  const refreshTokens = new Map<string, { status: 'active' | 'rotated'; family: string; accessToken: string }>()
  const revokedFamilies = new Set<string>()
  const stats: TokenServerStats = { refreshCalls: 0, reuseDetected: 0, unauthorized: 0, authorized: 0 }
  const log: LoggedRequest[] = []
  const hanging = new Set<ServerResponse>()
  const issued: string[] = []

  function issue(family = randomBytes(8).toString('hex'), sub = 'alice'): Required<Pick<TokenSet, 'accessToken'>> & { refreshToken: string } {
    const iat = Math.floor(Date.now() / 1000)
    const accessToken = mintJwt({ sub, gen: state.generation, iat, exp: iat + state.accessTtlSec, jti: randomBytes(6).toString('hex') }, secret)
    const refreshToken = randomBytes(24).toString('base64url')
    refreshTokens.set(refreshToken, { status: 'active', family, accessToken })
    issued.push(accessToken, refreshToken)
    return { accessToken, refreshToken }
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    res.end(JSON.stringify(body))
  }

  function authorize(req: IncomingMessage): Record<string, unknown> | null {
    const value = req.headers[state.authHeader]
    if (typeof value !== 'string') return null
    const prefix = state.authScheme ? `${state.authScheme} ` : ''
    if (!value.startsWith(prefix)) return null
    const claims = verifyJwt(value.slice(prefix.length), secret)
    if (!claims || typeof claims.gen !== 'number' || typeof claims.exp !== 'number') return null
    if (claims.gen < state.generation || claims.exp <= Date.now() / 1000) return null
    return claims
  }

  async function refresh(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    stats.refreshCalls++
    const mode = state.refreshMode
    if (mode === 'hang') {
      hanging.add(res)
      return
    }
    await sleep(mode === 'slow' ? Math.max(state.refreshLatencyMs, 1) : state.refreshLatencyMs)
    if (mode === '503') return json(res, 503, { error: 'temporarily_unavailable' })
    const form = parseForm(body, req.headers['content-type'] ?? '')
    if (form.grant_type !== 'refresh_token' || typeof form.refresh_token !== 'string') return json(res, 400, { error: 'invalid_request' })
    if (mode === 'invalid_grant') return json(res, 400, { error: 'invalid_grant' })
    const record = refreshTokens.get(form.refresh_token)
    if (!record) return json(res, 400, { error: 'invalid_grant' })
    if (mode === 'repeat' && record.status === 'active') {
      return json(res, 200, { access_token: record.accessToken, token_type: 'Bearer', expires_in: state.accessTtlSec, refresh_token: form.refresh_token })
    }
    if (record.status !== 'active' || revokedFamilies.has(record.family)) {
      // Reuse of a rotated token revokes the whole family.
      stats.reuseDetected++
      revokedFamilies.add(record.family)
      return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token reused' })
    }
    record.status = 'rotated'
    const pair = issue(record.family)
    json(res, 200, { access_token: pair.accessToken, token_type: 'Bearer', expires_in: state.accessTtlSec, refresh_token: pair.refreshToken })
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const body = await readBody(req)
      const entry: LoggedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        authorization: req.headers.authorization ?? null,
        headers: req.headers,
        body,
      }
      log.push(entry)
      res.on('finish', () => {
        entry.status = res.statusCode
      })
      // ?redirect=<url>&code=307: answers with that redirect, before any check (an open redirect, or a moved
      // API); ?redirect=self redirects to itself, for ever.
      const redirect = url.searchParams.get('redirect')
      if (redirect !== null) {
        const location = redirect === 'self' ? (req.url ?? '/') : redirect
        res.writeHead(Number(url.searchParams.get('code') ?? 307), { location, 'access-control-allow-origin': '*' })
        return res.end()
      }
      if (url.pathname === '/auth/token' && req.method === 'POST') return refresh(req, res, body)
      if (url.pathname.startsWith('/public/')) {
        // Unprotected: answers with what it saw, for leak checks.
        return json(res, 200, { authorization: req.headers.authorization ?? null })
      }
      if (url.pathname === '/graphql') {
        // A GraphQL server: an unauthenticated query is a 200 whose errors say so (?delay=ms before answering).
        const claims = authorize(req)
        await sleep(Number(url.searchParams.get('delay') ?? 0))
        if (!claims) {
          stats.unauthorized++
          return json(res, 200, { data: null, errors: [{ message: 'not signed in', extensions: { code: 'UNAUTHENTICATED' } }] })
        }
        stats.authorized++
        return json(res, 200, { data: { me: { sub: claims.sub } } })
      }
      if (url.pathname.startsWith('/api/')) {
        const delay = Number(url.searchParams.get('delay') ?? 0)
        // ?status=419 answers an unauthorized request with that status instead of 401.
        const failStatus = Number(url.searchParams.get('status') ?? 401)
        // ?delayAuth=ms: the token is checked after the delay (a slow request whose session ends meanwhile).
        const delayAuth = Number(url.searchParams.get('delayAuth') ?? 0)
        if (delayAuth) await sleep(delayAuth)
        const claims = url.pathname === '/api/always401' ? null : authorize(req)
        if (delay) await sleep(delay)
        if (!claims) {
          stats.unauthorized++
          return json(res, failStatus, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' })
        }
        stats.authorized++
        if (url.pathname === '/api/echo') {
          const echo: EchoBody = {
            method: entry.method,
            contentType: req.headers['content-type'] ?? null,
            body: body.toString('base64'),
            headers: req.headers,
          }
          return json(res, 200, echo)
        }
        return json(res, 200, { sub: claims.sub, gen: claims.gen, path: url.pathname })
      }
      json(res, 404, { error: 'not_found' })
    })().catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(error) })
    })
  })
  server.keepAliveTimeout = 1000
  // A deep accept queue: bursts of a thousand connections must not wait for SYN retries.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`

  return {
    url,
    port,
    stats,
    log,
    state,
    /** Every access and refresh token this server issued (to check none leaks into a message). */
    issued,
    /** A signed-in session without a login (of `sub`, default alice). */
    issue: (sub?: string) => issue(undefined, sub),
    /** Rejects every access token issued so far, as if all had expired on the server. */
    expireAll() {
      state.generation++
    },
    setRefreshMode(mode: RefreshMode, latencyMs?: number) {
      state.refreshMode = mode
      if (latencyMs !== undefined) state.refreshLatencyMs = latencyMs
    },
    /** Requests logged for `path` (no query). */
    requests(path: string) {
      return log.filter((entry) => entry.path === path)
    },
    reset() {
      state.refreshMode = 'ok'
      state.refreshLatencyMs = options.refreshLatencyMs ?? 20
      state.accessTtlSec = options.accessTtlSec ?? 900
      state.authHeader = (options.authHeader ?? 'authorization').toLowerCase()
      state.authScheme = options.authScheme ?? 'Bearer'
      for (const key of Object.keys(stats) as (keyof TokenServerStats)[]) stats[key] = 0
      log.length = 0
      for (const res of hanging) res.destroy()
      hanging.clear()
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type TokenServer = Awaited<ReturnType<typeof startTokenServer>>

/** Thrown by {@link fetchRefresh} on a non-2xx answer, with the fields `isSessionExpired` reads. */
export class RefreshHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: unknown,
  ) {
    super(`refresh failed with HTTP ${status}`)
    this.name = 'RefreshHttpError'
  }
}

/** A refresh function written as a user would write one, with fetch and a JSON body. */
export function fetchRefresh(server: Pick<TokenServer, 'url'>): RefreshFn {
  return async ({ refreshToken, signal }) => {
    const res = await fetch(`${server.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      signal,
    })
    const body = (await res.json()) as { access_token?: string; refresh_token?: string; expires_in?: number; error?: string }
    if (!res.ok || !body.access_token) throw new RefreshHttpError(res.status, body.error)
    return { accessToken: body.access_token, refreshToken: body.refresh_token, expiresIn: body.expires_in }
  }
}

// Wall-clock bounds live in bounds.ts (scaled on CI); re-exported for the tests that import them from here.
export { allSettledWithin, until } from './bounds.js'

/** The rejection reason of `promise`; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the promise to reject, it resolved')
}

/** Every message and stack in `error` and its cause chain, to check that no token leaks into them. */
export function errorText(error: unknown): string {
  const parts: string[] = []
  for (let e = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error) parts.push(e.name, e.message, e.stack ?? '')
    else parts.push(String(e))
  }
  return parts.join('\n')
}
