import type { Store } from './store/types.ts'
import type { SigningKeys } from './tokens/keys.ts'
import type { PasswordHasher } from './auth/password.ts'
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { DpopMode } from './tokens/dpop.ts'
import type { MonitoringOptions } from './plugins/monitoring.ts'

/** Where the refresh token travels. */
export type RefreshTokenTransport = 'body' | 'cookie'

/** `max` requests per `windowMs`. */
export interface RateLimitRule {
  max: number
  windowMs: number
}

/**
 * How long a client may take, ms. Each closes a way to hold a connection (and
 * a file descriptor) open without sending a request: see the README's
 * security section for why each value.
 */
export interface ClientTimeouts {
  /** The request line and headers must have arrived within this. Node's `headersTimeout`. @default 10_000 */
  headersMs?: number
  /** The whole request, body included, must have arrived within this; at least `headersMs`. Node's `requestTimeout`. @default 15_000 */
  requestMs?: number
  /** An idle keep-alive connection is closed after this. @default 72_000 */
  keepAliveMs?: number
  /** A connection with no traffic either way is closed after this; longer than any handler (`maxSlowDelayMs`). @default 60_000 */
  idleMs?: number
}

/** Options of {@link buildApp}. Only `store` and `keys` are required. */
export interface AppOptions {
  store: Store
  keys: SigningKeys
  /** `iss` of access tokens. @default 'http://localhost:3000' */
  issuer?: string
  /** `aud` of access tokens. @default 'silent-refresh-demo' */
  audience?: string
  /** Access token lifetime, seconds. @default 30 */
  accessTokenTtl?: number
  /** Refresh token idle lifetime, seconds; each rotation starts a new one. @default 600 */
  refreshTokenTtl?: number
  /** Absolute lifetime of a token family (a login), seconds; rotation never extends it. @default 3600 */
  refreshFamilyMaxAge?: number
  /**
   * Retry window for a lost answer, ms: within this long after a rotation, the
   * rotated token presented again — while the new one has never been used —
   * gets the same new token again instead of counting as reuse. 0: any second
   * use of a refresh token revokes its family. @default 20_000
   */
  refreshReuseGraceMs?: number
  /** @default 'body' */
  refreshTokenTransport?: RefreshTokenTransport
  /** Origins allowed by CORS (with credentials) and by the cookie-mode CSRF check. @default ['http://localhost:3000', 'http://127.0.0.1:3000'] */
  allowedOrigins?: string[]
  rateLimits?: {
    /** @default { max: 30, windowMs: 60_000 } */
    loginPerIp?: RateLimitRule
    /** Failed logins per username from this address, without a device cookie. @default { max: 10, windowMs: 900_000 } */
    loginFailuresPerAccountAndAddress?: RateLimitRule
    /** Failed logins per username from all addresses together, without a device cookie. @default { max: 50, windowMs: 900_000 } */
    loginFailuresPerAccount?: RateLimitRule
    /** Failed logins with one device cookie (a browser that signed in as this user before). @default { max: 10, windowMs: 900_000 } */
    loginFailuresPerDevice?: RateLimitRule
    /** @default { max: 60, windowMs: 60_000 } */
    refreshPerIp?: RateLimitRule
  }
  /**
   * Where `@fastify/rate-limit` keeps its counters. Unset: in process memory (one instance).
   * Several instances pass a shared one, e.g. `createPostgresRateLimitStore(store.pool)`.
   */
  rateLimitStore?: FastifyRateLimitStoreCtor
  /** Password hashing; tests pass cheap scrypt parameters or a spy. @default createScryptHasher() */
  passwordHasher?: PasswordHasher
  /** `false` for silence, or pino options (level, stream); redaction is always added. @default false */
  logger?: false | { level?: string; stream?: { write(line: string): void } }
  /** Fastify `trustProxy`: take the client IP from X-Forwarded-For. @default false */
  trustProxy?: boolean
  /** Clock, epoch ms. @default Date.now */
  now?: () => number
  /** Longest delay `GET /api/slow` accepts, ms. @default 10_000 */
  maxSlowDelayMs?: number
  /**
   * The demo page's levers (`/demo/expire`, `/demo/fail-next-refresh`, `/demo/stats`), each
   * acting on the caller's own session. Off: the routes do not exist. `npm run demo` turns them on.
   * @default false
   */
  demoLevers?: boolean
  /** Verified access tokens (and sessions) kept in memory for the hot path; 0 turns the cache off. @default 10_000 */
  authCacheSize?: number
  /** Time limits for slow, stalled and idle clients. */
  timeouts?: ClientTimeouts
  /** Most connections one address (IPv6: one /64) may hold open; 0 for no cap (behind a proxy). @default 64 */
  maxConnectionsPerAddress?: number
  /**
   * DPoP (RFC 9449): `allowed` binds tokens to the key of a request's DPoP proof and
   * issues bearer tokens without one; `required` refuses requests without a proof;
   * `off` ignores the `DPoP` header and accepts bearer tokens only. @default 'allowed'
   */
  dpop?: DpopMode
  /** Whether DPoP proofs must carry the server's nonce (`DPoP-Nonce`, RFC 9449 §8). @default true */
  dpopNonce?: boolean
  /** How often the DPoP nonce changes, ms; a nonce is accepted for its period and the next. @default 300_000 */
  dpopNonceRotationMs?: number
  /**
   * The origins (`https://api.example.com`) this server is reached at, which a DPoP
   * proof's `htu` must name. Empty: the request's own origin, from `Host` (and, with
   * `trustProxy`, `X-Forwarded-Proto` and `X-Forwarded-Host`). @default []
   */
  publicOrigins?: string[]
  /** The audit trail, its admin routes and `/metrics` (README "Monitoring"); see {@link MonitoringOptions}. */
  monitoring?: MonitoringOptions
}

/** {@link AppOptions} with every default applied. */
export type ResolvedOptions = Required<Omit<AppOptions, 'rateLimits' | 'logger' | 'rateLimitStore' | 'timeouts'>> & {
  timeouts: Required<ClientTimeouts>
  rateLimits: Required<NonNullable<AppOptions['rateLimits']>>
  logger: AppOptions['logger']
  rateLimitStore: AppOptions['rateLimitStore']
}
