/**
 * Interop: DPoP proofs made by a client nobody here wrote, panva's `dpop`
 * (npm, RFC 9449 for JavaScript runtimes), against the demo server over a real
 * port on a SQLite file: the nonce dance, login, refresh, the API, for ES256 and
 * Ed25519 keys. Our thumbprint must equal the library's (`cnf.jkt`), and our
 * `htu` and `ath` rules must accept what it signs.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { calculateThumbprint, generateKeyPair, generateProof, type JWSAlgorithm, type KeyPair } from 'dpop'
import { afterAll, describe, expect, it } from 'vitest'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import { DEMO, build } from './helpers/build.ts'
import { claimsOf } from './helpers/dpop.ts'

const dir = mkdtempSync(join(tmpdir(), 'dpop-interop-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Tokens {
  access_token: string
  refresh_token: string
  token_type: string
}

/** A client as an app would write one with `dpop`: remembers the nonce, retries once on use_dpop_nonce. */
function dpopClient(base: string, keyPair: KeyPair) {
  let nonce: string | undefined
  async function send(method: string, path: string, init: { headers?: Record<string, string>; body?: string; accessToken?: string }): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const dpop = await generateProof(keyPair, `${base}${path}`, method, nonce, init.accessToken)
      const headers = { ...init.headers, dpop, ...(init.accessToken ? { authorization: `DPoP ${init.accessToken}` } : {}) }
      const res = await fetch(`${base}${path}`, { method, headers, ...(init.body === undefined ? {} : { body: init.body }) })
      nonce = res.headers.get('dpop-nonce') ?? nonce
      const challenge = res.headers.get('www-authenticate') ?? ''
      const wantsNonce =
        (res.status === 400 && ((await res.clone().json()) as { error?: string }).error === 'use_dpop_nonce') ||
        (res.status === 401 && challenge.includes('error="use_dpop_nonce"'))
      if (!wantsNonce || attempt > 0) return res
    }
  }
  return {
    nonce: () => nonce,
    login: () => send('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(DEMO) }),
    refresh: (refreshToken: string) =>
      send('POST', '/auth/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
      }),
    me: (accessToken: string) => send('GET', '/api/me', { accessToken }),
  }
}

describe.each(['ES256', 'Ed25519'] satisfies JWSAlgorithm[])('panva/dpop proofs (%s) against the demo server', (alg) => {
  it('nonce dance, login, refresh, the API; the library\'s thumbprint is the token\'s cnf.jkt', async () => {
    const store = openSqliteStore(join(dir, `${alg}.db`))
    const ctx = await build({ store, now: Date.now, dpopNonceRotationMs: 60_000 })
    ctx.app.addHook('onClose', () => store.close())
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
    const keyPair = await generateKeyPair(alg)
    const client = dpopClient(base, keyPair)

    const login = await client.login()
    expect(login.status).toBe(200)
    expect(client.nonce()).toBe(ctx.app.dpop.verifier.nonce()) // learnt from the 400 use_dpop_nonce
    const tokens = (await login.json()) as Tokens
    expect(tokens.token_type).toBe('DPoP')
    expect(claimsOf(tokens.access_token).cnf).toEqual({ jkt: await calculateThumbprint(keyPair.publicKey) })

    expect((await client.me(tokens.access_token)).status).toBe(200)
    const refreshed = await client.refresh(tokens.refresh_token)
    expect(refreshed.status).toBe(200)
    const next = (await refreshed.json()) as Tokens
    const me = await client.me(next.access_token)
    expect(me.status).toBe(200)
    expect(((await me.json()) as { username: string }).username).toBe(DEMO.username)

    // Another key pair made by the library: its proofs are refused for these tokens.
    const other = dpopClient(base, await generateKeyPair(alg))
    expect((await other.me(next.access_token)).status).toBe(401)
    expect((await other.refresh(next.refresh_token)).status).toBe(400)
    expect((await client.refresh(next.refresh_token)).status).toBe(200)
  })
})
