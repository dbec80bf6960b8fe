/**
 * Three real server processes (src/server.ts, STORE=postgres) on one real
 * PostgreSQL, over real ports: rotation stays atomic across instances, reuse
 * seen by any instance revokes the family for all, and login limits are
 * counted together. Killing an instance mid-burst: lost-answer.test.ts.
 */
import { createHash } from 'node:crypto'
import { exportJWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSigningKeys } from '../src/tokens/keys.ts'
import { loginAt, loginFrom, meAt, msUntilRefused, refreshAt, startInstance, type Instance } from './helpers/instances.ts'
import { postgresRequired, postgresUnavailableReason, printSkipNotice, startPostgres, type TestPostgres } from './helpers/postgres.ts'

const USER = { username: 'multi', password: 'three instances' }
const sha256 = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

interface Tokens {
  access_token: string
  refresh_token: string
}

describe.runIf(postgresUnavailableReason !== null)('several instances on PostgreSQL (not installed)', () => {
  it('is required under CI=true; skipped elsewhere', () => {
    printSkipNotice('Multi-instance tests')
    if (postgresRequired) throw new Error(`CI=true but ${postgresUnavailableReason}`)
  })
})

describe.skipIf(postgresUnavailableReason !== null)('three instances on one PostgreSQL, over real ports', { timeout: 60_000 }, () => {
  let server: TestPostgres
  let instances: Instance[] = []
  const db = 'multi'

  beforeAll(async () => {
    server = await startPostgres()
    const databaseUrl = await server.createDatabase(db)
    const keys = await generateSigningKeys()
    const env = {
      STORE: 'postgres',
      DATABASE_URL: databaseUrl,
      PG_POOL_MAX: '5',
      // Every instance signs and verifies with the same key and issuer.
      JWT_PRIVATE_KEY: JSON.stringify(await exportJWK(keys.privateKey)),
      JWT_ISSUER: 'http://127.0.0.1:8080',
      DEMO_USERNAME: USER.username,
      DEMO_PASSWORD: USER.password,
      RATE_LIMIT_LOGIN_MAX: '100000',
      RATE_LIMIT_REFRESH_MAX: '100000',
      RATE_LIMIT_LOGIN_FAILURES_PER_ADDRESS_MAX: '5',
    }
    instances = await Promise.all([startInstance(env), startInstance(env), startInstance(env)])
  }, 90_000)

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.kill()))
    await server?.destroy()
  })

  const urls = (): string[] => instances.map((i) => i.url)

  async function login(url: string): Promise<Tokens> {
    const res = await loginAt(url, USER.username, USER.password)
    expect(res.status).toBe(200)
    return (await res.json()) as Tokens
  }

  it('each instance started on the shared database and reports it', () => {
    const ports = new Set(urls())
    expect(ports.size).toBe(3)
    for (const i of instances) expect(i.output()).toMatch(/database: PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:\d+\/multi \(pool of 5; (migrations 1, 2, 3, 4, 5, 6 applied|schema up to date); rate limits shared\)/)
    // Exactly one of them migrated the new database.
    expect(instances.filter((i) => i.output().includes('migrations 1, 2, 3, 4, 5, 6 applied'))).toHaveLength(1)
  })

  it('50 concurrent refreshes with one token, spread over the three instances: one rotation, all 50 get its answer', async () => {
    const [a] = urls()
    const tokens = await login(a!)
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => refreshAt(urls()[i % 3]!, tokens.refresh_token)))
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 200))
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<Tokens>))
    // One child in the database, and every answer carries it (the others are retries of that rotation).
    const children = await server.sql<{ token_hash: string }>(db, 'SELECT token_hash FROM refresh_tokens WHERE parent_hash = $1', [sha256(tokens.refresh_token)])
    expect(children).toHaveLength(1)
    expect(new Set(bodies.map((b) => sha256(b.refresh_token)))).toEqual(new Set([children[0]!.token_hash]))
    for (const url of urls()) expect((await meAt(url, bodies[0]!.access_token)).status).toBe(200)
    expect((await refreshAt(urls()[1]!, bodies[0]!.refresh_token)).status).toBe(200)
  })

  it('reuse detected by a different instance than the one that rotated revokes the family everywhere', async () => {
    const [a, b, c] = urls() as [string, string, string]
    const first = await login(a)
    const rotated = await refreshAt(b, first.refresh_token)
    expect(rotated.status).toBe(200)
    const second = (await rotated.json()) as Tokens
    // The client goes on: its next rotation, on C, uses the child.
    const third = (await (await refreshAt(c, second.refresh_token)).json()) as Tokens
    // Tokens signed by C verify on A, B and C (one key, one issuer).
    for (const url of [a, b, c]) expect((await meAt(url, third.access_token)).status).toBe(200)

    // A thief replays the first token at A: its child was used, so this is reuse.
    const since = performance.now()
    const replay = await refreshAt(a, first.refresh_token)
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' })

    // Every instance had the newest access token cached: each drops it within a second (pushed).
    for (const ms of await Promise.all([a, b, c].map((url) => msUntilRefused(url, third.access_token, since)))) expect(ms).toBeLessThan(1000)
    for (const url of [a, b, c]) expect((await refreshAt(url, third.refresh_token)).status).toBe(400)
    const family = await server.sql<{ revoked_reason: string }>(
      db,
      'SELECT f.revoked_reason FROM token_families f JOIN refresh_tokens t ON t.family_id = f.id WHERE t.token_hash = $1',
      [sha256(third.refresh_token)],
    )
    expect(family).toEqual([{ revoked_reason: 'reuse' }])
  })

  it('a logout on one instance stops the session on all three within a second, though each had the token cached', async () => {
    const [a, b, c] = urls() as [string, string, string]
    const tokens = await login(a)
    for (const url of [a, b, c]) for (let i = 0; i < 3; i++) expect((await meAt(url, tokens.access_token)).status).toBe(200)
    const since = performance.now()
    const logout = await fetch(`${b}/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: tokens.refresh_token }) })
    expect(logout.status).toBe(204)
    const took = await Promise.all([a, b, c].map((url) => msUntilRefused(url, tokens.access_token, since)))
    console.log(`  refused after the logout on B: ${took.map((ms) => `${Math.round(ms)} ms`).join(', ')} (A, B, C)`)
    for (const ms of took) expect(ms).toBeLessThan(1000)
  })

  it('when the listening connections are lost, every instance drops what it cached: a revocation the feed missed takes effect within a second', async () => {
    const [a, b, c] = urls() as [string, string, string]
    const tokens = await login(a)
    for (const url of [a, b, c]) for (let i = 0; i < 3; i++) expect((await meAt(url, tokens.access_token)).status).toBe(200)
    const sid = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()).sid as string
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: server.url(db) })
    await client.connect()
    try {
      // A revocation whose notification never arrives (triggers off for this transaction, as if it were lost).
      await client.query('BEGIN')
      await client.query('SET LOCAL session_replication_role = replica')
      await client.query("UPDATE token_families SET revoked_at = $1, revoked_reason = 'logout' WHERE id = $2", [Date.now(), sid])
      await client.query('COMMIT')
      // Unnotified, the instances still serve the cached token: the cache relies on the feed...
      for (const url of [a, b, c]) expect((await meAt(url, tokens.access_token)).status).toBe(200)
      // ...so losing the feed must drop the cache. Kill every listening connection.
      const since = performance.now()
      const killed = await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '% revocations'")
      expect(killed.rowCount).toBe(3)
      const took = await Promise.all([a, b, c].map((url) => msUntilRefused(url, tokens.access_token, since)))
      console.log(`  refused after the listeners were killed: ${took.map((ms) => `${Math.round(ms)} ms`).join(', ')}`)
      for (const ms of took) expect(ms).toBeLessThan(1000)
    } finally {
      await client.end()
    }
    // The feed is back: a later logout is pushed again.
    const fresh = await login(b)
    for (const url of [a, b, c]) expect((await meAt(url, fresh.access_token)).status).toBe(200)
    const since = performance.now()
    await fetch(`${c}/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: fresh.refresh_token }) })
    for (const ms of await Promise.all([a, b, c].map((url) => msUntilRefused(url, fresh.access_token, since)))) expect(ms).toBeLessThan(1000)
  })

  it('45 concurrent wrong passwords for one account over the three instances: exactly 5 are checked (the limit), 40 get 429', async () => {
    const responses = await Promise.all(Array.from({ length: 45 }, (_, i) => loginAt(urls()[i % 3]!, USER.username, `guess-${i}`)))
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(40)
    for (const url of urls()) {
      const refused = await loginAt(url, USER.username, USER.password)
      expect(refused.status).toBe(429)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60)
    }
    // The guesser on 127.0.0.1 locked only itself out: the user on 127.0.0.2 signs in on any instance.
    for (const url of urls()) expect((await loginFrom(url, USER.username, USER.password, '127.0.0.2')).status).toBe(200)
    await server.sql(db, 'DELETE FROM login_attempts')
    expect((await loginAt(urls()[0]!, USER.username, USER.password)).status).toBe(200)
  })
})
