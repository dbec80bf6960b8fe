import { HttpResponse, delay, http } from 'msw'
import type { DefaultBodyType, HttpHandler, HttpResponseResolver, PathParams } from 'msw'
import type { TokenSet } from '../core/types.js'
import { base64url, randomBytes } from './internal/hmac.js'
import { mintTestJwt, verifyTestJwt } from './jwt.js'

export interface TokenServerOptions {
  /**
   * Where the routes live: `POST {baseUrl}/auth/login`, `POST {baseUrl}/auth/token`,
   * `POST {baseUrl}/auth/logout` and anything under `{baseUrl}/api/`.
   * Without it the routes match on any origin (`*\/auth/token`), so the
   * same handlers serve Node (absolute URLs) and a browser (relative ones).
   */
  baseUrl?: string
  /** Lifetime of the access tokens, ms (`expires_in`, and the JWT's `exp - iat`). @default 900_000 */
  accessTtlMs?: number
  /** Issue a new refresh token on every refresh (the old one becomes a reuse). @default true */
  rotateRefreshTokens?: boolean
  /** Latency of every refresh, ms. One slow refresh: `delayNextRefresh(ms)`. @default 0 */
  refreshLatencyMs?: number
  /** The accounts login accepts. @default any non-empty username and password */
  users?: Record<string, string>
  /** The server's clock, epoch ms; looked up at call time, so fake timers apply. @default Date.now() */
  now?: () => number
}

/** A one-shot failure of the refresh endpoint, from {@link TokenServer.failNextRefresh}. */
export type RefreshFailure =
  /** `400 {"error":"invalid_grant"}`: the session is over (terminal for the SDK). */
  | 'invalid_grant'
  /** A 5xx (`status`, default 503) with `{"error":"temporarily_unavailable"}`: transient. */
  | 'server_error'
  /** The connection fails (`HttpResponse.error()`): fetch rejects with a `TypeError`. */
  | 'network_error'
  /** No answer until the client aborts or `reset()` is called: exercises `refreshTimeoutMs`. */
  | 'hang'

/** Counters, updated in place: keep a reference, read it after the requests. */
export interface TokenServerStats {
  /** Requests to `POST /auth/token`, whatever their outcome. */
  refreshCalls: number
  /** Refresh tokens presented again after they were rotated (each revoked its family). */
  reuseDetected: number
  /** Requests to anything under `/api/`. */
  protectedCalls: number
  /** `/api/` requests answered 401. */
  unauthorized: number
  /** `/api/` requests answered 200. */
  authorized: number
  /** Successful logins. */
  logins: number
}

/** The claims of the access tokens the server issues. */
export interface TestAccessClaims {
  sub: string
  /** The session (refresh-token family) the token belongs to. */
  sid: string
  iat: number
  exp: number
  [claim: string]: unknown
}

/** The tokens `issueTokens()` returns: what a login would give the client. */
export interface IssuedTokens extends TokenSet {
  accessToken: string
  refreshToken: string
  expiresIn: number
}

export interface TokenServer {
  /** msw handlers: pass them to `setupServer()` (Node) or `setupWorker()` (browser). */
  handlers: HttpHandler[]
  stats: TokenServerStats
  /** A signed-in session without going through login. */
  issueTokens(options?: { sub?: string }): IssuedTokens
  /** Every access token issued so far is now rejected with 401 (the client still thinks it valid). */
  expireAccessTokens(): void
  /** Ends every session: refresh tokens answer `invalid_grant`, access tokens 401. */
  revokeAll(): void
  /** Forgets sessions, counters and queued failures; releases hanging refreshes. */
  reset(): void
  /** The next `times` refreshes (default 1) fail this way; queued after earlier one-shot plans. */
  failNextRefresh(failure: RefreshFailure, options?: { status?: number; times?: number }): void
  /** The next refresh (or the next `times`) answers after `ms` more, then proceeds as usual. */
  delayNextRefresh(ms: number, options?: { times?: number }): void
  /**
   * Wraps a resolver of your own API route so it is protected like `/api/`
   * (counted in `stats`, 401 with `WWW-Authenticate` for bad tokens).
   * List your handlers before `handlers`: msw uses the first that matches.
   */
  protect<Params extends PathParams = PathParams, RequestBody extends DefaultBodyType = DefaultBodyType, ResponseBody extends DefaultBodyType = DefaultBodyType>(
    resolver: ProtectedResolver<Params, RequestBody, ResponseBody>,
  ): HttpResponseResolver<Params, RequestBody, ResponseBody>
}

/** A resolver behind {@link TokenServer.protect}: msw's arguments plus the token's claims. */
export type ProtectedResolver<Params extends PathParams, RequestBody extends DefaultBodyType, ResponseBody extends DefaultBodyType> = (
  info: Parameters<HttpResponseResolver<Params, RequestBody, ResponseBody>>[0] & { claims: TestAccessClaims },
) => ReturnType<HttpResponseResolver<Params, RequestBody, ResponseBody>>

interface Plan {
  failure?: RefreshFailure
  status?: number
  latencyMs?: number
}

const REALM = 'silent-refresh-test'
const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' }

const oauthError = (status: number, error: string, description: string) =>
  HttpResponse.json({ error, error_description: description }, { status, headers: noStore })

const challenge = (error?: string) =>
  HttpResponse.json(
    { error: error ?? 'unauthorized' },
    {
      status: 401,
      // RFC 6750 §3: no error code when the request had no token at all.
      headers: { 'www-authenticate': error ? `Bearer realm="${REALM}", error="${error}", error_description="The access token is invalid or expired"` : `Bearer realm="${REALM}"` },
    },
  )

/** Reads an OAuth body: form-encoded (RFC 6749 §6) or JSON, as the demo server accepts. */
async function readParams(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text()
  if (!text) return {}
  if ((request.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      const value = JSON.parse(text) as unknown
      return value && typeof value === 'object' ? (value as Record<string, unknown>) : {}
    } catch {
      return {}
    }
  }
  return Object.fromEntries(new URLSearchParams(text))
}

const positive = (name: string, value: number | undefined, fallback: number) => {
  if (value === undefined) return fallback
  if (typeof value === 'number' && value >= 0 && value < Infinity) return value
  throw new TypeError(`createTokenServer(): "${name}" must be a number of 0 or more`)
}

/**
 * A token server for tests, as msw handlers: login, RFC 6749 §6 refresh with
 * rotation and reuse detection (RFC 9700 §4.14.2: a reused refresh token
 * revokes its family), and protected routes under `/api/` that answer 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"`. Same routes as the demo server.
 *
 * @example
 * const tokens = createTokenServer({ baseUrl: 'https://api.test' })
 * const server = setupServer(...tokens.handlers)
 * // … fire requests, then:
 * expect(tokens.stats.refreshCalls).toBe(1)
 */
export function createTokenServer(options: TokenServerOptions = {}): TokenServer {
  const base = options.baseUrl === undefined ? '*' : options.baseUrl.replace(/\/+$/, '')
  const ttlMs = positive('accessTtlMs', options.accessTtlMs, 900_000)
  const latencyMs = positive('refreshLatencyMs', options.refreshLatencyMs, 0)
  const rotate = options.rotateRefreshTokens ?? true
  const now = options.now ?? (() => Date.now())
  // A per-server test key: tokens of another server (or of mintTestJwt's default key) are unknown here.
  const secret = base64url(randomBytes(18))

  const stats: TokenServerStats = { refreshCalls: 0, reuseDetected: 0, protectedCalls: 0, unauthorized: 0, authorized: 0, logins: 0 }
  const refreshTokens = new Map<string, { sid: string; sub: string; rotated: boolean }>()
  const sessions = new Map<string, { revoked: boolean }>()
  const plans: Plan[] = []
  const hanging = new Set<() => void>()
  /** Access tokens minted before the current generation are rejected (expireAccessTokens). */
  let generation = 1

  const newId = () => base64url(randomBytes(12))

  const mint = (sub: string, sid: string) => {
    const issuedAt = now()
    // Exact milliseconds (RFC 7519 NumericDate may be fractional): client and server agree on expiry.
    const accessToken = mintTestJwt({ sub, sid, gen: generation, jti: newId(), iat: issuedAt / 1000, exp: (issuedAt + ttlMs) / 1000 }, { secret })
    const refreshToken = newId()
    refreshTokens.set(refreshToken, { sid, sub, rotated: false })
    return { accessToken, refreshToken, expiresIn: ttlMs / 1000 }
  }

  const startSession = (sub: string) => {
    const sid = newId()
    sessions.set(sid, { revoked: false })
    return mint(sub, sid)
  }

  const tokenResponse = (tokens: { accessToken: string; refreshToken?: string; expiresIn: number }) =>
    HttpResponse.json(
      {
        access_token: tokens.accessToken,
        token_type: 'Bearer',
        expires_in: tokens.expiresIn,
        ...(tokens.refreshToken ? { refresh_token: tokens.refreshToken } : {}),
      },
      { headers: noStore },
    )

  /** RFC 6750 bearer check; `claims` when the token is one of ours, current and unexpired. */
  const authenticate = (request: Request): { claims: TestAccessClaims } | { error?: string } => {
    const header = request.headers.get('authorization')
    if (!header) return {}
    const match = /^Bearer +(\S+)$/i.exec(header.trim())
    if (!match) return {}
    const claims = verifyTestJwt(match[1]!, { secret }) as TestAccessClaims | null
    const valid =
      claims &&
      typeof claims.gen === 'number' &&
      claims.gen >= generation &&
      sessions.get(claims.sid)?.revoked === false &&
      typeof claims.exp === 'number' &&
      now() < claims.exp * 1000
    return valid ? { claims } : { error: 'invalid_token' }
  }

  const wait = (ms: number) => (ms > 0 ? delay(ms) : Promise.resolve())

  const protect: TokenServer['protect'] = (resolver) => async (info) => {
    stats.protectedCalls++
    const result = authenticate(info.request)
    // `?delay_ms=` as the demo server's /api/slow: the token is checked on arrival, the answer comes late.
    const delayMs = Number(new URL(info.request.url).searchParams.get('delay_ms'))
    await wait(Number.isFinite(delayMs) ? delayMs : 0)
    if (!('claims' in result)) {
      stats.unauthorized++
      return challenge(result.error) as never
    }
    stats.authorized++
    return resolver({ ...info, claims: result.claims })
  }

  const handlers: HttpHandler[] = [
    http.post(`${base}/auth/login`, async ({ request }) => {
      const { username, password } = await readParams(request)
      if (typeof username !== 'string' || !username || typeof password !== 'string' || !password) {
        return oauthError(400, 'invalid_request', 'username and password are required')
      }
      if (options.users && options.users[username] !== password) {
        return oauthError(401, 'invalid_credentials', 'Invalid username or password')
      }
      stats.logins++
      return tokenResponse(startSession(username))
    }),

    http.post(`${base}/auth/token`, async ({ request }) => {
      stats.refreshCalls++
      const plan = plans.shift() ?? {}
      await wait(latencyMs + (plan.latencyMs ?? 0))
      if (plan.failure === 'hang') {
        await new Promise<void>((resolve) => {
          const release = () => {
            hanging.delete(release)
            resolve()
          }
          hanging.add(release)
          request.signal.addEventListener('abort', release)
        })
        return HttpResponse.error()
      }
      if (plan.failure === 'network_error') return HttpResponse.error()
      if (plan.failure === 'server_error') return oauthError(plan.status ?? 503, 'temporarily_unavailable', 'Try again later')
      if (plan.failure === 'invalid_grant') return oauthError(400, 'invalid_grant', 'The refresh token is invalid, expired or revoked')

      const params = await readParams(request)
      if (params.grant_type !== 'refresh_token') return oauthError(400, 'unsupported_grant_type', 'Only grant_type=refresh_token is supported')
      if (typeof params.refresh_token !== 'string' || !params.refresh_token) return oauthError(400, 'invalid_request', 'refresh_token is required')
      const record = refreshTokens.get(params.refresh_token)
      const session = record && sessions.get(record.sid)
      if (!record || !session || session.revoked) return oauthError(400, 'invalid_grant', 'The refresh token is invalid, expired or revoked')
      if (record.rotated) {
        // RFC 9700 §4.14.2: a rotated token presented again means it leaked (or a client raced): end the session.
        stats.reuseDetected++
        session.revoked = true
        return oauthError(400, 'invalid_grant', 'The refresh token is invalid, expired or revoked')
      }
      const next = mint(record.sub, record.sid)
      if (!rotate) {
        refreshTokens.delete(next.refreshToken)
        return tokenResponse({ accessToken: next.accessToken, expiresIn: next.expiresIn })
      }
      record.rotated = true
      return tokenResponse(next)
    }),

    http.post(`${base}/auth/logout`, async ({ request }) => {
      const { refresh_token: token } = await readParams(request)
      const record = typeof token === 'string' ? refreshTokens.get(token) : undefined
      const session = record && sessions.get(record.sid)
      if (session) session.revoked = true
      return new HttpResponse(null, { status: 204, headers: noStore })
    }),

    http.all(`${base}/api/*`, protect(({ request, claims }) =>
      HttpResponse.json({ sub: claims.sub, sid: claims.sid, method: request.method, path: new URL(request.url).pathname }),
    )),
  ]

  const times = (value: number | undefined) => {
    const n = value ?? 1
    if (!Number.isInteger(n) || n < 1) throw new TypeError('"times" must be a whole number of 1 or more')
    return n
  }

  return {
    handlers,
    stats,
    issueTokens: (opts = {}) => startSession(opts.sub ?? 'alice'),
    expireAccessTokens() {
      generation++
    },
    revokeAll() {
      for (const session of sessions.values()) session.revoked = true
      generation++
    },
    reset() {
      refreshTokens.clear()
      sessions.clear()
      plans.length = 0
      for (const release of [...hanging]) release()
      generation = 1
      for (const key of Object.keys(stats) as (keyof TokenServerStats)[]) stats[key] = 0
    },
    failNextRefresh(failure, opts = {}) {
      if (!['invalid_grant', 'server_error', 'network_error', 'hang'].includes(failure)) {
        throw new TypeError('failNextRefresh(failure): "failure" must be invalid_grant, server_error, network_error or hang')
      }
      if (opts.status !== undefined && !(Number.isInteger(opts.status) && opts.status >= 500 && opts.status <= 599)) {
        throw new TypeError('failNextRefresh(): "status" must be a 5xx status')
      }
      for (let i = times(opts.times); i > 0; i--) plans.push({ failure, status: opts.status })
    },
    delayNextRefresh(ms, opts = {}) {
      const latency = positive('ms', ms, 0)
      for (let i = times(opts.times); i > 0; i--) plans.push({ latencyMs: latency })
    },
    protect,
  }
}
