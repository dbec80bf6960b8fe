import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, redactDatabaseUrl } from '../src/config.ts'

describe('loadConfig: STORE and PostgreSQL settings', () => {
  it('defaults to the SQLite store', () => {
    expect(loadConfig({}).store).toEqual({ kind: 'sqlite' })
    expect(loadConfig({ STORE: 'sqlite' }).store).toEqual({ kind: 'sqlite' })
  })

  it('STORE=postgres reads DATABASE_URL and the pool settings, with defaults', () => {
    const url = 'postgres://demo:secret@127.0.0.1:5432/demo'
    expect(loadConfig({ STORE: 'postgres', DATABASE_URL: url }).store).toEqual({
      kind: 'postgres',
      url,
      poolMax: 10,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 5000,
      applicationName: 'silent-refresh-demo',
    })
    expect(
      loadConfig({
        STORE: 'postgres',
        DATABASE_URL: 'postgresql://db/demo',
        PG_POOL_MAX: '4',
        PG_CONNECT_TIMEOUT: '1500ms',
        PG_STATEMENT_TIMEOUT: '2s',
        PG_APPLICATION_NAME: 'demo-a',
      }).store,
    ).toEqual({ kind: 'postgres', url: 'postgresql://db/demo', poolMax: 4, connectTimeoutMs: 1500, statementTimeoutMs: 2000, applicationName: 'demo-a' })
  })

  it('refuses a bad STORE, a missing or non-PostgreSQL DATABASE_URL, and a bad pool size, naming the variable', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ STORE: 'redis' }, /^STORE must be "sqlite" or "postgres"/],
      [{ STORE: 'postgres' }, /^DATABASE_URL is required with STORE=postgres/],
      [{ STORE: 'postgres', DATABASE_URL: 'not a url' }, /^DATABASE_URL must be a URL/],
      [{ STORE: 'postgres', DATABASE_URL: 'mysql://db/demo' }, /^DATABASE_URL must start with postgres:\/\//],
      [{ STORE: 'postgres', DATABASE_URL: 'postgres://db/demo', PG_POOL_MAX: '0' }, /^PG_POOL_MAX must be between 1 and 1000/],
      [{ STORE: 'postgres', DATABASE_URL: 'postgres://db/demo', PG_CONNECT_TIMEOUT: 'soon' }, /^PG_CONNECT_TIMEOUT must be a duration/],
    ]
    for (const [env, message] of bad) {
      expect(() => loadConfig(env)).toThrow(ConfigError)
      expect(() => loadConfig(env)).toThrow(message)
    }
  })

  it('never prints the database password', () => {
    expect(redactDatabaseUrl('postgres://demo:s3cret@db:5432/demo')).toBe('postgres://demo:***@db:5432/demo')
    expect(redactDatabaseUrl('postgres://db/demo')).toBe('postgres://db/demo')
    expect(redactDatabaseUrl('::')).not.toContain('::')
  })
})
