import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.ts'
import { createScryptHasher } from '../src/auth/password.ts'
import { seedUser } from '../src/auth/seed.ts'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import type { Store } from '../src/store/types.ts'
import { loadSigningKeys } from '../src/tokens/keys.ts'
import { DEMO, TEST_SCRYPT } from './helpers/build.ts'

const dir = mkdtempSync(join(tmpdir(), 'demo-port-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const running: Array<{ app: FastifyInstance; store: Store }> = []
afterEach(async () => {
  for (const { app, store } of running.splice(0)) {
    await app.close()
    await store.close()
  }
})

const hasher = createScryptHasher(TEST_SCRYPT)

/** A real server on 127.0.0.1:<random port>, as server.ts would start it. */
async function start(store: Store, keyFile: string | null): Promise<{ url: string; app: FastifyInstance }> {
  const keys = await loadSigningKeys({ file: keyFile })
  await seedUser(store, hasher, DEMO.username, DEMO.password)
  const app = await buildApp({ store, keys, passwordHasher: hasher })
  running.push({ app, store })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, app }
}

async function login(url: string): Promise<{ access_token: string; refresh_token: string }> {
  const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(DEMO) })
  expect(res.status).toBe(200)
  return (await res.json()) as { access_token: string; refresh_token: string }
}

function refresh(url: string, token: string): Promise<Response> {
  return fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  })
}

describe.each([
  ['in-memory store', () => createMemoryStore()],
  ['SQLite file store', () => openSqliteStore(join(dir, `concurrent-${Math.random().toString(36).slice(2)}.db`))],
])('over a real port (%s)', (_name, openStore) => {
  it('five concurrent refreshes with one token → one rotation: all five get the same new refresh token, which works', async () => {
    const { url } = await start(openStore(), null)
    const tokens = await login(url)
    const responses = await Promise.all(Array.from({ length: 5 }, () => refresh(url, tokens.refresh_token)))
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ refresh_token: string }>))
    expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(1)
    expect((await refresh(url, bodies[0]!.refresh_token)).status).toBe(200)
  })

  it('with the retry window off, exactly one 200; the losers presented a rotated token, so the family is revoked', async () => {
    const store = openStore()
    const keys = await loadSigningKeys({ file: null })
    await seedUser(store, hasher, DEMO.username, DEMO.password)
    const app = await buildApp({ store, keys, passwordHasher: hasher, refreshReuseGraceMs: 0 })
    running.push({ app, store })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const tokens = await login(url)
    const responses = await Promise.all(Array.from({ length: 5 }, () => refresh(url, tokens.refresh_token)))
    expect(responses.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400])
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ error?: string; refresh_token?: string }>))
    for (const body of bodies.filter((b) => b.error)) expect(body.error).toBe('invalid_grant')
    const winner = bodies.find((b) => b.refresh_token)!
    expect((await refresh(url, winner.refresh_token!)).status).toBe(400)
  })
})

describe('restart with the file store', () => {
  it('keeps sessions: the signing key and the token families survive a restart', async () => {
    const dbPath = join(dir, 'restart.db')
    const keyFile = join(dir, 'signing-key.json')
    const first = await start(openSqliteStore(dbPath), keyFile)
    const tokens = await login(first.url)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    const { app, store } = running.pop()!
    await app.close()
    await store.close()

    const second = await start(openSqliteStore(dbPath), keyFile)
    // The old access token still verifies (same key), the old refresh token still rotates (same DB).
    const me = await fetch(`${second.url}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    expect(me.status).toBe(200)
    expect(((await me.json()) as { username: string }).username).toBe(DEMO.username)
    const rotated = await refresh(second.url, tokens.refresh_token)
    expect(rotated.status).toBe(200)
    const next = (await rotated.json()) as { refresh_token: string }
    expect((await refresh(second.url, next.refresh_token)).status).toBe(200)
    // And reuse detection remembers what happened before the restart (the child was used: the old token is reuse).
    expect((await refresh(second.url, tokens.refresh_token)).status).toBe(400)
  })

  it('a new key file means old tokens no longer verify (what would happen without persistence)', async () => {
    const dbPath = join(dir, 'rekey.db')
    const first = await start(openSqliteStore(dbPath), join(dir, 'key-a.json'))
    const tokens = await login(first.url)
    const second = await start(openSqliteStore(dbPath), join(dir, 'key-b.json'))
    const me = await fetch(`${second.url}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    expect(me.status).toBe(401)
  })
})
