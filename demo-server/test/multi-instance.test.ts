/**
 * Three real server processes (src/server.ts, STORE=postgres) on one real
 * PostgreSQL, over real ports: rotation stays atomic across instances, reuse
 * seen by any instance revokes the family for all, rate limits are counted
 * together, and killing one instance mid-burst loses nothing.
 */
import { createHash } from 'node:crypto'
import { exportJWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSigningKeys } from '../src/tokens/keys.ts'
import { loginAt, loginFrom, meAt, refreshAt, startInstance, type Instance } from './helpers/instances.ts'
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
    for (const i of instances) expect(i.output()).toMatch(/database: PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:\d+\/multi \(pool of 5; (migrations 1, 2, 3 applied|schema up to date); rate limits shared\)/)
    // Exactly one of them migrated the new database.
    expect(instances.filter((i) => i.output().includes('migrations 1, 2, 3 applied'))).toHaveLength(1)
  })

  it('50 concurrent refreshes with one token, spread over the three instances: exactly one winner', async () => {
    const [a] = urls()
    const tokens = await login(a!)
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => refreshAt(urls()[i % 3]!, tokens.refresh_token)))
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(1)
    expect(statuses.filter((s) => s === 400)).toHaveLength(49)
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<Partial<Tokens> & { error?: string }>))
    expect(bodies.filter((b) => b.error === 'invalid_grant')).toHaveLength(49)
    const winner = bodies.find((b) => b.refresh_token)!
    expect((await server.sql(db, 'SELECT 1 FROM refresh_tokens WHERE parent_hash = $1', [sha256(tokens.refresh_token)])).length).toBe(1)
    // The 49 losers presented a rotated token: reuse, so the family is revoked, on every instance.
    for (const url of urls()) {
      const me = await meAt(url, winner.access_token!)
      expect(me.status).toBe(401)
      expect(((await me.json()) as { error_description: string }).error_description).toBe('The session has ended.')
      expect((await refreshAt(url, winner.refresh_token!)).status).toBe(400)
    }
  })

  it('reuse detected by a different instance than the one that rotated revokes the family everywhere', async () => {
    const [a, b, c] = urls() as [string, string, string]
    const first = await login(a)
    const rotated = await refreshAt(b, first.refresh_token)
    expect(rotated.status).toBe(200)
    const second = (await rotated.json()) as Tokens
    // Tokens signed by B verify on A, B and C (one key, one issuer).
    for (const url of [a, b, c]) expect((await meAt(url, second.access_token)).status).toBe(200)

    // The old token replayed at C: reuse.
    const replay = await refreshAt(c, first.refresh_token)
    expect(replay.status).toBe(400)
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' })

    for (const url of [a, b, c]) {
      expect((await meAt(url, second.access_token)).status).toBe(401)
      expect((await refreshAt(url, second.refresh_token)).status).toBe(400)
    }
    const family = await server.sql<{ revoked_reason: string }>(
      db,
      'SELECT f.revoked_reason FROM token_families f JOIN refresh_tokens t ON t.family_id = f.id WHERE t.token_hash = $1',
      [sha256(second.refresh_token)],
    )
    expect(family).toEqual([{ revoked_reason: 'reuse' }])
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

  it('one instance killed mid-burst: nothing is lost and the other two keep serving', async () => {
    const SESSIONS = 9
    const ROTATIONS = 12
    const KILL_AFTER = 30
    const all = urls()
    const victim = 2
    const down = new Set<number>()
    // One after the other: concurrent logins of one account from one address would be held to its
    // failure budget (5 here), because a slot is taken before the password is checked.
    const sessions: Tokens[] = []
    for (let s = 0; s < SESSIONS; s++) sessions.push(await login(all[s % 2]!))

    let completed = 0
    let networkErrors = 0
    const errorCodes: Record<string, number> = {}
    let killed: Promise<void> | undefined
    const outcome: Array<{ latest: Tokens; rotations: number; ambiguous: string | null; interrupted: number }> = []

    async function chain(s: number): Promise<void> {
      let latest = sessions[s]!
      let turn = s
      const result = { latest, rotations: 0, ambiguous: null as string | null, interrupted: 0 }
      outcome[s] = result
      while (result.rotations < ROTATIONS) {
        // A client (or load balancer) sends to the next instance that is not known to be down.
        let target = turn++ % 3
        while (down.has(target)) target = turn++ % 3
        let res: Response
        try {
          res = await refreshAt(all[target]!, latest.refresh_token)
        } catch (err) {
          // Connection refused or reset: the instance died, maybe with our request in flight.
          const code = String((err as { cause?: { code?: unknown } }).cause?.code ?? 'unknown')
          errorCodes[code] = (errorCodes[code] ?? 0) + 1
          networkErrors++
          result.interrupted++
          down.add(target)
          continue
        }
        if (res.status === 200) {
          latest = (await res.json()) as Tokens
          result.latest = latest
          result.rotations++
          if (++completed === KILL_AFTER) killed = instances[victim]!.kill()
          continue
        }
        // Only possible after an interrupted request whose COMMIT landed before the instance
        // died: the answer with the new token was lost, so retrying the old one is reuse.
        result.ambiguous = `${res.status} ${await res.text()}`
        return
      }
    }

    await Promise.all(Array.from({ length: SESSIONS }, (_, s) => chain(s)))
    await killed
    expect(killed).toBeDefined()
    expect(networkErrors).toBeGreaterThan(0)

    for (const [s, result] of outcome.entries()) {
      if (result.ambiguous !== null) {
        // The documented ambiguous case, and only that: interrupted, then the family revoked for reuse.
        expect(result.interrupted, `session ${s}`).toBeGreaterThan(0)
        expect(result.ambiguous).toContain('invalid_grant')
        const rows = await server.sql<{ status: string; revoked_reason: string }>(
          db,
          'SELECT t.status, f.revoked_reason FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_hash = $1',
          [sha256(result.latest.refresh_token)],
        )
        expect(rows).toEqual([{ status: 'rotated', revoked_reason: 'reuse' }])
        continue
      }
      expect(result.rotations, `session ${s}`).toBe(ROTATIONS)
      // What the client holds is exactly what the database holds: one active token, its latest.
      const active = await server.sql<{ token_hash: string }>(
        db,
        `SELECT t.token_hash FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id
          WHERE t.family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)
            AND t.status = 'active' AND f.revoked_at IS NULL`,
        [sha256(result.latest.refresh_token)],
      )
      expect(active, `session ${s}`).toEqual([{ token_hash: sha256(result.latest.refresh_token) }])
      for (const url of [all[0]!, all[1]!]) expect((await meAt(url, result.latest.access_token)).status).toBe(200)
    }
    const ambiguous = outcome.filter((o) => o.ambiguous !== null).length
    console.log(
      `  killed mid-burst: ${networkErrors} requests failed (${JSON.stringify(errorCodes)}), ` +
        `${ambiguous} of ${SESSIONS} sessions hit the commit-then-crash window`,
    )
    // Most sessions never touched the window; at least those carried on through the survivors.
    expect(ambiguous).toBeLessThan(SESSIONS)

    for (const url of [all[0]!, all[1]!]) expect((await fetch(`${url}/healthz`)).status).toBe(200)
    await expect(fetch(`${all[victim]}/healthz`)).rejects.toThrow()
    // And new sessions still work on the survivors.
    const fresh = await login(all[1]!)
    expect((await refreshAt(all[0]!, fresh.refresh_token)).status).toBe(200)
  })
})
