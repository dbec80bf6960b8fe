/**
 * DPoP state in the real stores (a SQLite file, a real PostgreSQL): the `jti`
 * replay cache (atomic, expiring, purged) and key-bound families, then over
 * real HTTP: a SQLite-backed server on a port, and two instances on one
 * PostgreSQL behind one public origin, where a proof replayed to the other
 * instance is refused.
 */
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { DEMO, build } from './helpers/build.ts'
import { dpopKey, makeProof } from './helpers/dpop.ts'
import { isSessionActive, useStores } from './helpers/stores.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'

const T0 = Date.UTC(2030, 0, 1)
const factories = useStores()

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

describe.each(factories)('DPoP in the $kind store', ({ open }) => {
  it('recordDpopProof: the first use is recorded, a replay is refused until it expires, then the key is free again', async () => {
    const store = await open()
    try {
      expect(await store.recordDpopProof('k1', T0 + 60_000, T0)).toBe(true)
      expect(await store.recordDpopProof('k1', T0 + 61_000, T0 + 1000)).toBe(false)
      expect(await store.recordDpopProof('k2', T0 + 60_000, T0)).toBe(true)
      // Past its expiry the record no longer blocks (the proof's iat is outside the window by then anyway).
      expect(await store.recordDpopProof('k1', T0 + 200_000, T0 + 60_000)).toBe(true)
      expect(await store.recordDpopProof('k1', T0 + 200_000, T0 + 60_001)).toBe(false)
    } finally {
      await store.close()
    }
  })

  it('20 concurrent uses of one proof: exactly one is recorded', async () => {
    const store = await open()
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => store.recordDpopProof('race', T0 + 60_000, T0)))
      expect(results.filter(Boolean)).toHaveLength(1)
    } finally {
      await store.close()
    }
  })

  it('purgeExpired deletes expired proof records and keeps live ones', async () => {
    const store = await open()
    try {
      await store.recordDpopProof('old', T0 + 10_000, T0)
      await store.recordDpopProof('live', T0 + 100_000, T0)
      await store.purgeExpired(T0 + 50_000)
      // "live" is still there: a replay at a time before its expiry is refused.
      expect(await store.recordDpopProof('live', T0 + 100_000, T0 + 1)).toBe(false)
      // "old" is gone: recording it at a time before its old expiry now succeeds.
      expect(await store.recordDpopProof('old', T0 + 10_000, T0 + 1)).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('a bound family answers wrong_key to no key or another key, before any other check, changing nothing', async () => {
    const store = await open()
    try {
      const { id } = await store.upsertUser({ username: 'u', passwordHash: 'h' })
      await store.createSession({ familyId: 'f', userId: id, tokenHash: 't0', now: T0, tokenExpiresAt: T0 + 60_000, familyExpiresAt: T0 + 600_000, dpopJkt: 'A' })
      const input = { tokenHash: 't0', newTokenHash: 't1', now: T0 + 1, idleTtlMs: 60_000, graceMs: 0 }
      expect(await store.rotate({ ...input })).toEqual({ kind: 'wrong_key', familyId: 'f' })
      expect(await store.rotate({ ...input, dpopJkt: null })).toEqual({ kind: 'wrong_key', familyId: 'f' })
      expect(await store.rotate({ ...input, dpopJkt: 'B' })).toEqual({ kind: 'wrong_key', familyId: 'f' })
      expect(await store.dpopJktOfToken('t0')).toBe('A')
      expect(await store.dpopJktOfToken('nope')).toBeUndefined()
      expect((await store.rotate({ ...input, dpopJkt: 'A' })).kind).toBe('rotated')
      // The rotated parent presented without the key: still wrong_key, not reuse; the family lives on.
      expect(await store.rotate({ ...input, newTokenHash: 'x', now: T0 + 2 })).toEqual({ kind: 'wrong_key', familyId: 'f' })
      expect(await isSessionActive(store, 'f', T0 + 3)).toBe(true)
      expect((await store.rotate({ tokenHash: 't1', newTokenHash: 't2', now: T0 + 3, idleTtlMs: 60_000, graceMs: 0, dpopJkt: 'A' })).kind).toBe('rotated')
      // An unbound family takes any key, or none.
      await store.createSession({ familyId: 'g', userId: id, tokenHash: 'u0', now: T0, tokenExpiresAt: T0 + 60_000, familyExpiresAt: T0 + 600_000 })
      expect(await store.dpopJktOfToken('u0')).toBeNull()
      expect((await store.rotate({ tokenHash: 'u0', newTokenHash: 'u1', now: T0 + 1, idleTtlMs: 60_000, graceMs: 0, dpopJkt: 'Z' })).kind).toBe('rotated')
      expect((await store.rotate({ tokenHash: 'u1', newTokenHash: 'u2', now: T0 + 2, idleTtlMs: 60_000, graceMs: 0 })).kind).toBe('rotated')
    } finally {
      await store.close()
    }
  })

  it('over a real port: login, refresh and /api/me with DPoP; a proof replayed to the same server is refused', async () => {
    const store = await open()
    const ctx = await build({ store, now: Date.now })
    ctx.app.addHook('onClose', () => store.close())
    const url = await listen(ctx.app)
    const key = await dpopKey()
    const nonce = ctx.app.dpop.verifier.nonce()
    const proof = (htm: string, path: string, accessToken?: string) =>
      makeProof(key, { htm, htu: `${url}${path}`, now: Date.now(), nonce, ...(accessToken ? { accessToken } : {}) })

    const login = await fetch(`${url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: await proof('POST', '/auth/login') },
      body: JSON.stringify(DEMO),
    })
    expect(login.status).toBe(200)
    const tokens = (await login.json()) as { access_token: string; refresh_token: string; token_type: string }
    expect(tokens.token_type).toBe('DPoP')

    const stolen = await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    })
    expect(stolen.status).toBe(400)
    expect(((await stolen.json()) as { error: string }).error).toBe('invalid_grant')

    const refreshed = await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof('POST', '/auth/token') },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
    })
    expect(refreshed.status).toBe(200)
    const access = ((await refreshed.json()) as { access_token: string }).access_token

    const meProof = await proof('GET', '/api/me', access)
    const me = await fetch(`${url}/api/me`, { headers: { authorization: `DPoP ${access}`, dpop: meProof } })
    expect(me.status).toBe(200)
    const replay = await fetch(`${url}/api/me`, { headers: { authorization: `DPoP ${access}`, dpop: meProof } })
    expect(replay.status).toBe(401)
    expect(replay.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"')
  })
})

describe('two connections on one SQLite file (as two processes)', () => {
  it('a proof recorded through one is a replay through the other', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpop-sqlite-'))
    const [one, two] = [openSqliteStore(join(dir, 'shared.db')), openSqliteStore(join(dir, 'shared.db'))]
    try {
      expect(await one.recordDpopProof('shared', T0 + 60_000, T0)).toBe(true)
      expect(await two.recordDpopProof('shared', T0 + 60_000, T0 + 1)).toBe(false)
      const both = await Promise.all([one.recordDpopProof('race', T0 + 60_000, T0), two.recordDpopProof('race', T0 + 60_000, T0)])
      expect(both.filter(Boolean)).toHaveLength(1)
    } finally {
      await one.close()
      await two.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

const postgres = factories.find((f) => f.kind === 'postgres')

describe.runIf(postgres)('two instances on one PostgreSQL behind one public origin', () => {
  it('a proof used at one instance is refused at the other (token endpoint and API): the replay cache is shared', async () => {
    // Two stores (two pools) on one database, as two instances; opened before use (open() empties the tables).
    const [storeA, storeB] = [await postgres!.open(), await postgres!.open()]
    const origin = 'https://api.demo.test'
    const [a, b] = [
      await build({ store: storeA, now: Date.now, publicOrigins: [origin] }),
      await build({ store: storeB, now: Date.now, publicOrigins: [origin] }),
    ]
    a.app.addHook('onClose', () => storeA.close())
    b.app.addHook('onClose', () => storeB.close())
    const [urlA, urlB] = [await listen(a.app), await listen(b.app)]
    const key = await dpopKey()
    // Same signing key (testKeys), so the same nonce at both.
    const nonce = a.app.dpop.verifier.nonce()
    expect(b.app.dpop.verifier.nonce()).toBe(nonce)

    const loginProof = await makeProof(key, { htm: 'POST', htu: `${origin}/auth/login`, now: Date.now(), nonce })
    const login = (target: string) =>
      fetch(`${target}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', dpop: loginProof }, body: JSON.stringify(DEMO) })
    const first = await login(urlA)
    expect(first.status).toBe(200)
    const replayed = await login(urlB)
    expect(replayed.status).toBe(400)
    expect(await replayed.json()).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('already used') })

    const access = ((await first.json()) as { access_token: string }).access_token
    const meProof = await makeProof(key, { htm: 'GET', htu: `${origin}/api/me`, now: Date.now(), nonce, accessToken: access })
    const me = (target: string) => fetch(`${target}/api/me`, { headers: { authorization: `DPoP ${access}`, dpop: meProof } })
    expect((await me(urlB)).status).toBe(200)
    const again = await me(urlA)
    expect(again.status).toBe(401)
    expect(again.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"')
  })
})
