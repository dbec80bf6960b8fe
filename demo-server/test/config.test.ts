import { hostname } from 'node:os'
import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_DB_PATH, loadConfig, parseDuration } from '../src/config.ts'

describe('loadConfig', () => {
  it('defaults: port 3000 on localhost, the data/ SQLite file, body transport, short demo TTLs', () => {
    const config = loadConfig({})
    expect(config.port).toBe(3000)
    expect(config.host).toBe('localhost')
    expect(config.publicUrl).toBe('http://localhost:3000')
    expect(config.dbPath).toBe(DEFAULT_DB_PATH)
    expect(DEFAULT_DB_PATH).toMatch(/demo-server[\\/]data[\\/]demo\.db$/)
    expect(config.keyFile).toMatch(/demo-server[\\/]data[\\/]signing-key\.json$/)
    expect(config.demoUsername).toBe('demo')
    expect(config.demoPassword).toBe('demo')
    expect(config.app).toMatchObject({
      issuer: 'http://localhost:3000',
      audience: 'silent-refresh-demo',
      accessTokenTtl: 30,
      refreshTokenTtl: 600,
      refreshFamilyMaxAge: 3600,
      refreshReuseGraceMs: 20_000,
      refreshTokenTransport: 'body',
      allowedOrigins: ['http://localhost:3000', 'http://127.0.0.1:3000'],
      trustProxy: false,
      timeouts: { headersMs: 10_000, requestMs: 15_000, keepAliveMs: 72_000, idleMs: 60_000 },
      maxConnectionsPerAddress: 64,
      rateLimits: {
        loginPerIp: { max: 30, windowMs: 60_000 },
        loginFailuresPerAccountAndAddress: { max: 10, windowMs: 900_000 },
        loginFailuresPerAccount: { max: 50, windowMs: 900_000 },
        loginFailuresPerDevice: { max: 10, windowMs: 900_000 },
        refreshPerIp: { max: 60, windowMs: 60_000 },
      },
    })
  })

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      DB_PATH: ':memory:',
      DEMO_USERNAME: 'alice',
      DEMO_PASSWORD: 'pw',
      ACCESS_TOKEN_TTL: '15m',
      REFRESH_TOKEN_TTL: '2h',
      REFRESH_FAMILY_MAX_AGE: '7d',
      REFRESH_REUSE_GRACE_MS: '2000',
      REFRESH_TOKEN_TRANSPORT: 'cookie',
      JWT_ISSUER: 'https://auth.example',
      JWT_AUDIENCE: 'api',
      JWT_PRIVATE_KEY: '{"kty":"OKP"}',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example:8443',
      RATE_LIMIT_LOGIN_MAX: '5',
      RATE_LIMIT_LOGIN_WINDOW: '30s',
      RATE_LIMIT_LOGIN_FAILURES_MAX: '3',
      RATE_LIMIT_LOGIN_FAILURES_WINDOW: '1h',
      RATE_LIMIT_LOGIN_FAILURES_PER_ADDRESS_MAX: '4',
      RATE_LIMIT_LOGIN_FAILURES_PER_ADDRESS_WINDOW: '5m',
      RATE_LIMIT_LOGIN_FAILURES_PER_DEVICE_MAX: '6',
      RATE_LIMIT_LOGIN_FAILURES_PER_DEVICE_WINDOW: '10m',
      RATE_LIMIT_REFRESH_MAX: '7',
      RATE_LIMIT_REFRESH_WINDOW: '2m',
      TRUST_PROXY: 'true',
      LOG_LEVEL: 'debug',
      SLOW_MAX_DELAY_MS: '500',
      HEADERS_TIMEOUT: '5s',
      REQUEST_TIMEOUT: '8s',
      KEEP_ALIVE_TIMEOUT: '30s',
      IDLE_TIMEOUT: '2m',
      MAX_CONNECTIONS_PER_ADDRESS: '0',
    })
    expect(config).toMatchObject({ port: 8080, host: '0.0.0.0', dbPath: ':memory:', keyFile: null, privateKey: '{"kty":"OKP"}', demoUsername: 'alice', demoPassword: 'pw', logLevel: 'debug' })
    expect(config.app).toMatchObject({
      issuer: 'https://auth.example',
      audience: 'api',
      accessTokenTtl: 900,
      refreshTokenTtl: 7200,
      refreshFamilyMaxAge: 604800,
      refreshReuseGraceMs: 2000,
      refreshTokenTransport: 'cookie',
      allowedOrigins: ['https://a.example', 'https://b.example:8443'],
      trustProxy: true,
      maxSlowDelayMs: 500,
      timeouts: { headersMs: 5000, requestMs: 8000, keepAliveMs: 30_000, idleMs: 120_000 },
      maxConnectionsPerAddress: 0,
      rateLimits: {
        loginPerIp: { max: 5, windowMs: 30_000 },
        loginFailuresPerAccount: { max: 3, windowMs: 3_600_000 },
        loginFailuresPerAccountAndAddress: { max: 4, windowMs: 300_000 },
        loginFailuresPerDevice: { max: 6, windowMs: 600_000 },
        refreshPerIp: { max: 7, windowMs: 120_000 },
      },
    })
  })

  it('demo levers: off by default, on with DEMO_LEVERS=true or the --demo-levers flag (npm run demo); unknown flags refused', () => {
    expect(loadConfig({}).app.demoLevers).toBe(false)
    expect(loadConfig({ DEMO_LEVERS: 'true' }).app.demoLevers).toBe(true)
    expect(loadConfig({}, ['--demo-levers']).app.demoLevers).toBe(true)
    expect(() => loadConfig({}, ['--levers'])).toThrow('unknown option --levers (known: --demo-levers)')
  })

  it('monitoring: audit on for 30 days, admin routes and metrics off, instance id host:port; each variable read', () => {
    expect(loadConfig({}).app.monitoring).toEqual({
      audit: true,
      auditRetentionMs: 30 * 24 * 3600_000,
      adminToken: undefined,
      metricsToken: undefined,
      instanceId: `${hostname()}:3000`,
    })
    const admin = 'a'.repeat(32)
    const metrics = 'm'.repeat(44)
    expect(loadConfig({ AUDIT_LOG: 'false', AUDIT_RETENTION: '7d', ADMIN_TOKEN: admin, METRICS_TOKEN: metrics, INSTANCE_ID: 'eu-1', PORT: '3001' }).app.monitoring).toEqual({
      audit: false,
      auditRetentionMs: 7 * 24 * 3600_000,
      adminToken: admin,
      metricsToken: metrics,
      instanceId: 'eu-1',
    })
  })

  it('JWT_KEY_FILE overrides where the key is kept', () => {
    expect(loadConfig({ DB_PATH: '/tmp/x/db.sqlite', JWT_KEY_FILE: '/secrets/k.json' }).keyFile).toBe('/secrets/k.json')
    expect(loadConfig({ DB_PATH: '/tmp/x/db.sqlite' }).keyFile).toBe('/tmp/x/signing-key.json')
  })

  it.each([
    [{ PORT: 'http' }, 'PORT must be a whole number'],
    [{ PORT: '70000' }, 'PORT must be between 0 and 65535'],
    [{ ACCESS_TOKEN_TTL: 'soon' }, 'ACCESS_TOKEN_TTL must be a duration'],
    [{ REFRESH_TOKEN_TTL: '0' }, 'REFRESH_TOKEN_TTL must be greater than zero'],
    [{ REFRESH_TOKEN_TRANSPORT: 'header' }, 'REFRESH_TOKEN_TRANSPORT must be "body" or "cookie"'],
    [{ REFRESH_REUSE_GRACE_MS: '-5' }, 'REFRESH_REUSE_GRACE_MS must be a whole number'],
    [{ ALLOWED_ORIGINS: '*' }, 'ALLOWED_ORIGINS: "*" is not an origin'],
    [{ ALLOWED_ORIGINS: 'https://a.example/' }, 'must be a bare origin, e.g. "https://a.example"'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY must be true or false'],
    [{ RATE_LIMIT_LOGIN_MAX: '0' }, 'RATE_LIMIT_LOGIN_MAX must be between 1'],
    [{ ADMIN_TOKEN: 'secret' }, 'ADMIN_TOKEN must be at least 32 characters'],
    [{ METRICS_TOKEN: `${'x'.repeat(20)} ${'y'.repeat(20)}` }, 'METRICS_TOKEN must be at least 32 characters without spaces'],
    [{ AUDIT_RETENTION: 'forever' }, 'AUDIT_RETENTION must be a duration'],
    [{ AUDIT_LOG: 'sometimes' }, 'AUDIT_LOG must be true or false'],
  ])('%j → ConfigError', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError)
    expect(() => loadConfig(env)).toThrow(message)
  })
})

describe('parseDuration', () => {
  it.each([
    ['90', 90],
    ['1500ms', 1.5],
    ['30s', 30],
    ['15m', 900],
    ['1h', 3600],
    ['7d', 604800],
  ])('%s → %d s', (input, seconds) => {
    expect(parseDuration('X', input)).toBe(seconds)
  })
})
