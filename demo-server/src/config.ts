import { hostname } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AppOptions, RateLimitRule } from './options.ts'
import { DPOP_MODES, type DpopMode } from './tokens/dpop.ts'

/** Default SQLite file: `demo-server/data/demo.db`, wherever the process was started from. */
export const DEFAULT_DB_PATH = fileURLToPath(new URL('../data/demo.db', import.meta.url))
/** The default data folder, `demo-server/data/`: the server keeps it at mode 0700. */
export const DEFAULT_DATA_DIR = dirname(DEFAULT_DB_PATH)

/** Everything `server.ts` needs: how to listen, where data lives, and the app options. */
export interface ServerConfig {
  port: number
  host: string
  /** `http://<host>:<port>` as printed and used for defaults. */
  publicUrl: string
  /** Which store to open (`STORE`): the SQLite file at `dbPath`, or PostgreSQL for several instances. */
  store: SqliteStoreConfig | PostgresStoreConfig
  /** SQLite file (`DB_PATH`); with `STORE=postgres` only its folder matters (default place of the key file). */
  dbPath: string
  /** File holding the signing key (created on first start); `null` with `:memory:`. */
  keyFile: string | null
  /** `JWT_PRIVATE_KEY`: PKCS#8 PEM or private JWK; wins over `keyFile`. */
  privateKey: string | undefined
  demoUsername: string
  /** Never printed: the banner says only whether it came from `DEMO_PASSWORD`. */
  demoPassword: string
  /** Whether `DEMO_PASSWORD` was set (else the password is the documented default, `demo`). */
  demoPasswordFromEnv: boolean
  logLevel: string
  /** `SHUTDOWN_TIMEOUT`, ms: how long in-flight requests get after SIGINT/SIGTERM before the process exits 1. */
  shutdownTimeoutMs: number
  app: Omit<AppOptions, 'store' | 'keys'>
}

export interface SqliteStoreConfig {
  kind: 'sqlite'
}

/** `STORE=postgres`: see `openPostgresStore()` for what each setting does. */
export interface PostgresStoreConfig {
  kind: 'postgres'
  /** `DATABASE_URL`. */
  url: string
  /** `PG_POOL_MAX`. */
  poolMax: number
  /** `PG_CONNECT_TIMEOUT`, ms. */
  connectTimeoutMs: number
  /** `PG_STATEMENT_TIMEOUT`, ms. */
  statementTimeoutMs: number
  /** `PG_APPLICATION_NAME`: how this instance's connections appear in `pg_stat_activity`. */
  applicationName: string
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for printing. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable DATABASE_URL)'
  }
}

function databaseUrl(name: string, value: string | undefined): string {
  if (value === undefined) {
    throw new ConfigError(`${name} is required with STORE=postgres, e.g. postgres://demo:secret@127.0.0.1:5432/demo`)
  }
  let parsed: URL
  try {
    parsed = new URL(value)
  } catch {
    throw new ConfigError(`${name} must be a URL like postgres://user:password@host:5432/database`)
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(`${name} must start with postgres:// or postgresql:// (got "${parsed.protocol}//…")`)
  }
  return value
}

/** A bad environment variable; the message names it and says what is expected. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }

/**
 * A duration in seconds: `90` (seconds), `1500ms`, `30s`, `15m`, `1h`, `7d`.
 *
 * @example
 * parseDuration('ACCESS_TOKEN_TTL', '15m') // 900
 */
export function parseDuration(name: string, value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value)
  if (!match) throw new ConfigError(`${name} must be a duration like 30, 30s, 15m, 1h or 7d (got "${value}")`)
  const seconds = Number(match[1]) * UNITS[match[2] ?? 's']!
  if (!(seconds > 0)) throw new ConfigError(`${name} must be greater than zero`)
  return seconds
}

function integer(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\s*\d+\s*$/.test(value)) throw new ConfigError(`${name} must be a whole number (got "${value}")`)
  const n = Number(value)
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max} (got ${n})`)
  return n
}

function bool(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)$/i.test(value)) return false
  throw new ConfigError(`${name} must be true or false (got "${value}")`)
}

function origins(name: string, value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const origin of list) {
    let parsed: URL
    try {
      parsed = new URL(origin)
    } catch {
      throw new ConfigError(`${name}: "${origin}" is not an origin like https://app.example.com`)
    }
    if (parsed.origin !== origin) throw new ConfigError(`${name}: "${origin}" must be a bare origin, e.g. "${parsed.origin}"`)
  }
  return list
}

/** `ADMIN_TOKEN`, `METRICS_TOKEN`: bearer credentials, long enough not to be guessed (`openssl rand -base64 32`). */
function credential(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (value.length < 32 || /\s/.test(value)) throw new ConfigError(`${name} must be at least 32 characters without spaces (e.g. openssl rand -base64 32)`)
  return value
}

/** Command-line flags of `src/server.ts` (`npm run demo` passes `--demo-levers`). */
export const FLAGS = ['--demo-levers'] as const

/**
 * Reads the configuration from environment variables (documented in
 * README.md) and the command-line flags. Throws a {@link ConfigError} naming
 * the first bad variable or flag.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): ServerConfig {
  for (const arg of argv) {
    if (!(FLAGS as readonly string[]).includes(arg)) throw new ConfigError(`unknown option ${arg} (known: ${FLAGS.join(', ')})`)
  }
  const get = (name: string): string | undefined => {
    const value = env[name]
    return value === undefined || value.trim() === '' ? undefined : value
  }
  const port = integer('PORT', get('PORT') ?? '3000', 0, 65535)
  const host = get('HOST') ?? 'localhost'
  const urlHost = host.includes(':') ? `[${host}]` : host
  const publicUrl = `http://${urlHost}:${port}`

  const dbPath = get('DB_PATH') === ':memory:' ? ':memory:' : resolve(get('DB_PATH') ?? DEFAULT_DB_PATH)
  const keyFile = get('JWT_KEY_FILE') ? resolve(get('JWT_KEY_FILE')!) : dbPath === ':memory:' ? null : join(dirname(dbPath), 'signing-key.json')

  const storeKind = get('STORE') ?? 'sqlite'
  if (storeKind !== 'sqlite' && storeKind !== 'postgres') {
    throw new ConfigError(`STORE must be "sqlite" or "postgres" (got "${storeKind}")`)
  }
  const store: ServerConfig['store'] =
    storeKind === 'sqlite'
      ? { kind: 'sqlite' }
      : {
          kind: 'postgres',
          url: databaseUrl('DATABASE_URL', get('DATABASE_URL')),
          poolMax: integer('PG_POOL_MAX', get('PG_POOL_MAX') ?? '10', 1, 1000),
          connectTimeoutMs: Math.round(parseDuration('PG_CONNECT_TIMEOUT', get('PG_CONNECT_TIMEOUT') ?? '5s') * 1000),
          statementTimeoutMs: Math.round(parseDuration('PG_STATEMENT_TIMEOUT', get('PG_STATEMENT_TIMEOUT') ?? '5s') * 1000),
          applicationName: get('PG_APPLICATION_NAME') ?? 'silent-refresh-demo',
        }

  const transport = get('REFRESH_TOKEN_TRANSPORT') ?? 'body'
  if (transport !== 'body' && transport !== 'cookie') {
    throw new ConfigError(`REFRESH_TOKEN_TRANSPORT must be "body" or "cookie" (got "${transport}")`)
  }

  const dpop = get('DPOP') ?? 'allowed'
  if (!(DPOP_MODES as readonly string[]).includes(dpop)) {
    throw new ConfigError(`DPOP must be "required", "allowed" or "off" (got "${dpop}")`)
  }

  const ms = (name: string, fallback: string): number => Math.round(parseDuration(name, get(name) ?? fallback) * 1000)

  const rule = (maxName: string, maxDefault: number, windowName: string, windowDefault: string): RateLimitRule => ({
    max: integer(maxName, get(maxName) ?? String(maxDefault), 1),
    windowMs: Math.round(parseDuration(windowName, get(windowName) ?? windowDefault) * 1000),
  })

  return {
    port,
    host,
    publicUrl,
    store,
    dbPath,
    keyFile,
    privateKey: get('JWT_PRIVATE_KEY'),
    demoUsername: get('DEMO_USERNAME') ?? 'demo',
    demoPassword: get('DEMO_PASSWORD') ?? 'demo',
    demoPasswordFromEnv: get('DEMO_PASSWORD') !== undefined,
    logLevel: get('LOG_LEVEL') ?? 'info',
    shutdownTimeoutMs: ms('SHUTDOWN_TIMEOUT', '10s'),
    app: {
      issuer: get('JWT_ISSUER') ?? publicUrl,
      audience: get('JWT_AUDIENCE') ?? 'silent-refresh-demo',
      accessTokenTtl: Math.round(parseDuration('ACCESS_TOKEN_TTL', get('ACCESS_TOKEN_TTL') ?? '30s')),
      refreshTokenTtl: Math.round(parseDuration('REFRESH_TOKEN_TTL', get('REFRESH_TOKEN_TTL') ?? '10m')),
      refreshFamilyMaxAge: Math.round(parseDuration('REFRESH_FAMILY_MAX_AGE', get('REFRESH_FAMILY_MAX_AGE') ?? '1h')),
      refreshReuseGraceMs: integer('REFRESH_REUSE_GRACE_MS', get('REFRESH_REUSE_GRACE_MS') ?? '20000', 0, 60_000),
      refreshTokenTransport: transport,
      allowedOrigins: origins(
        'ALLOWED_ORIGINS',
        get('ALLOWED_ORIGINS') ?? [`http://localhost:${port}`, `http://127.0.0.1:${port}`, publicUrl].join(','),
      ).filter((o, i, all) => all.indexOf(o) === i),
      rateLimits: {
        loginPerIp: rule('RATE_LIMIT_LOGIN_MAX', 30, 'RATE_LIMIT_LOGIN_WINDOW', '1m'),
        loginFailuresPerAccountAndAddress: rule('RATE_LIMIT_LOGIN_FAILURES_PER_ADDRESS_MAX', 10, 'RATE_LIMIT_LOGIN_FAILURES_PER_ADDRESS_WINDOW', '15m'),
        loginFailuresPerAccount: rule('RATE_LIMIT_LOGIN_FAILURES_MAX', 50, 'RATE_LIMIT_LOGIN_FAILURES_WINDOW', '15m'),
        loginFailuresPerDevice: rule('RATE_LIMIT_LOGIN_FAILURES_PER_DEVICE_MAX', 10, 'RATE_LIMIT_LOGIN_FAILURES_PER_DEVICE_WINDOW', '15m'),
        refreshPerIp: rule('RATE_LIMIT_REFRESH_MAX', 60, 'RATE_LIMIT_REFRESH_WINDOW', '1m'),
      },
      trustProxy: bool('TRUST_PROXY', get('TRUST_PROXY') ?? 'false'),
      demoLevers: argv.includes('--demo-levers') || bool('DEMO_LEVERS', get('DEMO_LEVERS') ?? 'false'),
      maxSlowDelayMs: integer('SLOW_MAX_DELAY_MS', get('SLOW_MAX_DELAY_MS') ?? '10000', 0, 120_000),
      timeouts: {
        headersMs: ms('HEADERS_TIMEOUT', '10s'),
        requestMs: ms('REQUEST_TIMEOUT', '15s'),
        keepAliveMs: ms('KEEP_ALIVE_TIMEOUT', '72s'),
        idleMs: ms('IDLE_TIMEOUT', '60s'),
      },
      maxConnectionsPerAddress: integer('MAX_CONNECTIONS_PER_ADDRESS', get('MAX_CONNECTIONS_PER_ADDRESS') ?? '64', 0, 1_000_000),
      dpop: dpop as DpopMode,
      dpopNonce: bool('DPOP_NONCE', get('DPOP_NONCE') ?? 'true'),
      dpopNonceRotationMs: ms('DPOP_NONCE_ROTATION', '5m'),
      publicOrigins: origins('PUBLIC_ORIGIN', get('PUBLIC_ORIGIN') ?? ''),
      monitoring: {
        audit: bool('AUDIT_LOG', get('AUDIT_LOG') ?? 'true'),
        auditRetentionMs: ms('AUDIT_RETENTION', '30d'),
        adminToken: credential('ADMIN_TOKEN', get('ADMIN_TOKEN')),
        metricsToken: credential('METRICS_TOKEN', get('METRICS_TOKEN')),
        instanceId: get('INSTANCE_ID') ?? `${hostname()}:${port}`,
      },
    },
  }
}
