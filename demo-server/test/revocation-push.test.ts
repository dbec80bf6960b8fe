/**
 * Revocations reach every process that caches verified tokens: two real
 * server processes on one SQLite file, each with the token cached, and a
 * logout on one of them. (Three PostgreSQL instances: multi-instance.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportJWK } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { generateSigningKeys } from '../src/tokens/keys.ts'
import { loginAt, meAt, msUntilRefused, startInstance, type Instance } from './helpers/instances.ts'

const USER = { username: 'push', password: 'revoked everywhere' }

describe('two processes on one SQLite file', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-push-'))
  const instances: Instance[] = []
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.kill()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('a logout in one stops the session in the other within a second, though the other had the token cached', async () => {
    const key = JSON.stringify(await exportJWK((await generateSigningKeys()).privateKey))
    const env = { DB_PATH: join(dir, 'demo.db'), JWT_PRIVATE_KEY: key, JWT_ISSUER: 'http://127.0.0.1:8080', DEMO_USERNAME: USER.username, DEMO_PASSWORD: USER.password }
    instances.push(await startInstance(env))
    instances.push(await startInstance(env))
    const [a, b] = instances.map((i) => i.url) as [string, string]
    const tokens = (await (await loginAt(a, USER.username, USER.password)).json()) as { access_token: string; refresh_token: string }
    // Both have verified (and cached) the token.
    for (const url of [a, b]) for (let i = 0; i < 3; i++) expect((await meAt(url, tokens.access_token)).status).toBe(200)

    const since = performance.now()
    const logout = await fetch(`${a}/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: tokens.refresh_token }) })
    expect(logout.status).toBe(204)
    const [inA, inB] = await Promise.all([msUntilRefused(a, tokens.access_token, since), msUntilRefused(b, tokens.access_token, since)])
    console.log(`  refused after the logout: ${Math.round(inA)} ms in the process that revoked, ${Math.round(inB)} ms in the other`)
    expect(inA).toBeLessThan(1000)
    expect(inB).toBeLessThan(1000)
  })
})
