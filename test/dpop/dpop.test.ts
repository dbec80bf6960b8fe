// DPoP (RFC 9449) over real HTTP, through both adapters, against a server that
// verifies every proof with jose (test/helpers/dpop-server.ts).
import axios, { AxiosError } from 'axios'
import ky from 'ky'
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client'
import { createAuthLink } from '../../src/integrations/apollo/index.js'
import { createAuthConfig } from '../../src/integrations/urql/index.js'
import { afterEach, describe, expect, test } from 'vitest'
import { createTokenManager, fromTokenResponse, refreshTokenGrant, RefreshFailedError, type TokenManager } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { dpop, DPoPNonceError, type DPoP } from '../../src/dpop/index.js'
import { startDpopServer, type DpopServer } from '../helpers/dpop-server.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function server(options: Parameters<typeof startDpopServer>[0] = {}): Promise<DpopServer> {
  const started = await startDpopServer(options)
  cleanups.push(() => started.close())
  return started
}

/** Logs in at `auth` with the key (a proof, no token), as an app's login or code exchange would. */
async function login(key: DPoP, auth: DpopServer, manager: TokenManager): Promise<void> {
  const response = await key.fetch(`${auth.url}/login`, { method: 'POST' })
  expect(response.status).toBe(200)
  await manager.setTokens(fromTokenResponse(await response.json()))
}

async function session(auth: DpopServer, allowed: string[] = [auth.url]) {
  const key = dpop()
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${auth.url}/token`, fetch: key.fetch }), sender: key })
  cleanups.push(() => manager.dispose())
  await login(key, auth, manager)
  return { key, manager, allowed }
}

type Send = (url: string, init?: { method?: string; body?: string }) => Promise<{ status: number; body?: unknown }>

/** One request function per adapter: the status and body as the app would read them; axios's rejection turned into its status. */
const adapters: Record<'fetch' | 'axios', (manager: TokenManager, allowed: string[]) => Send> = {
  fetch(manager, allowed) {
    const authFetch = createAuthFetch(manager, { allowedOrigins: allowed })
    return async (url, init) => {
      const response = await authFetch(url, init)
      return { status: response.status, body: await response.json() }
    }
  },
  axios(manager, allowed) {
    const api = axios.create()
    attachAxios(api, manager, { allowedOrigins: allowed })
    return async (url, init) => {
      try {
        const response = await api.request({ url, method: init?.method ?? 'GET', data: init?.body })
        return { status: response.status, body: response.data }
      } catch (error) {
        if (error instanceof AxiosError && error.response) return { status: error.response.status, body: error.response.data }
        throw error
      }
    }
  },
}

describe.each(['fetch', 'axios'] as const)('DPoP through the %s adapter', (adapter) => {
  test('every request carries a proof the server verifies: typ, alg, public jwk, htm, htu without query, iat, jti, ath', async () => {
    const auth = await server()
    const { manager, allowed } = await session(auth)
    const send = adapters[adapter](manager, allowed)
    expect((await send(`${auth.url}/api/me?secret=1#frag`)).status).toBe(200)
    expect((await send(`${auth.url}/api/items`, { method: 'POST', body: '{}' })).status).toBe(200)
    const resource = auth.proofs.filter((p) => p.path.startsWith('/api/'))
    expect(resource).toHaveLength(2)
    for (const proof of resource) {
      expect(proof.header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' })
      expect(Object.keys(proof.header.jwk as object).sort()).toEqual(['crv', 'kty', 'x', 'y'])
      expect(proof.authorization).toMatch(/^DPoP /)
      expect(typeof proof.payload.ath).toBe('string')
    }
    expect(resource[0]!.payload).toMatchObject({ htm: 'GET', htu: `${auth.url}/api/me` })
    expect(resource[1]!.payload).toMatchObject({ htm: 'POST', htu: `${auth.url}/api/items` })
    expect(new Set(auth.proofs.map((p) => p.payload.jti)).size).toBe(auth.proofs.length)
    // The login's proof has no ath (no token yet): the server refuses one that has.
    expect(auth.proofs[0]!.payload.ath).toBeUndefined()
  })

  test('a nonce is remembered per origin: the auth server and each resource server', async () => {
    const auth = await server({ nonces: true })
    const api = await server({ nonces: true, secret: auth.secret })
    const { manager } = await session(auth)
    // The login met the auth server's nonce challenge once (400 use_dpop_nonce), then remembered it.
    expect(auth.stats.nonceChallenges).toBe(1)
    const send = adapters[adapter](manager, [auth.url, api.url])
    expect((await send(`${api.url}/api/a`)).status).toBe(200)
    expect(api.stats.nonceChallenges).toBe(1)
    expect((await send(`${api.url}/api/b`)).status).toBe(200)
    expect((await send(`${auth.url}/api/c`)).status).toBe(200)
    // Each origin's nonce was remembered from its own answers: no further challenge anywhere.
    expect(api.stats.nonceChallenges).toBe(1)
    expect(auth.stats.nonceChallenges).toBe(1)
    expect(api.proofs.at(-1)!.payload.nonce).toBe(api.nonce)
    expect(auth.proofs.at(-1)!.payload.nonce).toBe(auth.nonce)
    expect(auth.stats.refreshCalls).toBe(0)
  })

  test('a nonce challenge is not a refresh and does not use up the retry-once', async () => {
    const auth = await server({ nonces: true })
    const { manager, allowed } = await session(auth)
    const send = adapters[adapter](manager, allowed)
    auth.rotateNonce()
    auth.expireAccessTokens()
    // challenge → again with the nonce → 401 expired → one refresh (its own nonce challenge) → again with the new token's ath → 200
    expect((await send(`${auth.url}/api/me`)).status).toBe(200)
    expect(auth.stats.refreshCalls).toBe(1)
    const resource = auth.proofs.filter((p) => p.path === '/api/me')
    expect(resource).toHaveLength(3)
    expect(resource[2]!.payload.ath).not.toBe(resource[1]!.payload.ath)
  })

  test('a burst of 20 meeting a new nonce and an expiry at once: one refresh, every request succeeds', async () => {
    const auth = await server({ nonces: true })
    const { manager, allowed } = await session(auth)
    const send = adapters[adapter](manager, allowed)
    expect((await send(`${auth.url}/api/warm`)).status).toBe(200)
    auth.rotateNonce()
    auth.expireAccessTokens()
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => send(`${auth.url}/api/burst/${i}`)))
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect(auth.stats.refreshCalls).toBe(1)
  })

  test('a server that keeps answering use_dpop_nonce: one more try, then the 401 as the client gives it, no refresh', async () => {
    const auth = await server()
    const { manager, allowed } = await session(auth)
    const send = adapters[adapter](manager, allowed)
    auth.levers.alwaysChallenge = true
    const before = auth.proofs.length
    const result = await send(`${auth.url}/api/me`)
    expect(result.status).toBe(401)
    expect(result.body).toEqual({ error: 'use_dpop_nonce' })
    expect(auth.proofs.length - before).toBe(2)
    expect(auth.stats.refreshCalls).toBe(0)
  })

  test('no proof and no token to an origin that is not allowed, nor when signed out', async () => {
    const auth = await server()
    const other = await server({ secret: auth.secret })
    const { manager, allowed } = await session(auth)
    const send = adapters[adapter](manager, allowed)
    expect((await send(`${other.url}/api/me`)).status).toBe(401)
    expect(other.proofs).toEqual([])
    await manager.clear()
    const before = auth.proofs.length
    expect((await send(`${auth.url}/api/me`)).status).toBe(401)
    expect(auth.proofs.length).toBe(before)
    expect(auth.stats.refreshCalls).toBe(0)
  })

  test('after a sign-out the next login gets a new key', async () => {
    const auth = await server()
    const { key, manager, allowed } = await session(auth)
    const first = await key.thumbprint()
    await manager.clear()
    await login(key, auth, manager)
    const second = await key.thumbprint()
    expect(second).not.toBe(first)
    const send = adapters[adapter](manager, allowed)
    expect((await send(`${auth.url}/api/me`)).status).toBe(200)
    expect([...auth.jkts]).toEqual([first, second])
  })
})

describe('DPoP through an integration on createAuthFetch', () => {
  test('ky: proofs per attempt, a nonce challenge and an expiry at once, one refresh', async () => {
    const auth = await server({ nonces: true })
    const { manager } = await session(auth)
    const api = ky.create({ prefixUrl: auth.url, fetch: createAuthFetch(manager, { allowedOrigins: [auth.url] }), retry: 0 })
    expect(await api.get('api/me?x=1').json()).toMatchObject({ ok: true, path: '/api/me' })
    auth.rotateNonce()
    auth.expireAccessTokens()
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => api.post(`api/items/${i}`, { json: { i } }).json<{ body: string }>()))
    expect(results.map((r) => JSON.parse(r.body))).toEqual([1, 2, 3, 4, 5].map((i) => ({ i })))
    expect(auth.stats.refreshCalls).toBe(1)
    // ky hands createAuthFetch a Request: its URL is what the proofs name.
    expect(auth.proofs.filter((p) => p.path.startsWith('/api/items/')).every((p) => p.payload.htu === `${auth.url}${p.path}` && p.payload.htm === 'POST')).toBe(true)
  })
})

describe('DPoP with GraphQL clients', () => {
  test('Apollo: an HttpLink with fetch: createAuthFetch(manager) signs every attempt', async () => {
    const auth = await server({ nonces: true })
    const { manager } = await session(auth)
    const client = new ApolloClient({ cache: new InMemoryCache(), link: new HttpLink({ uri: `${auth.url}/api/graphql`, fetch: createAuthFetch(manager, { allowedOrigins: [auth.url] }) }) })
    const query = gql`
      query Me {
        me {
          id
        }
      }
    `
    auth.rotateNonce()
    auth.expireAccessTokens()
    const result = await client.query({ query, fetchPolicy: 'network-only' })
    expect(result.data).toEqual({ me: { __typename: 'User', id: 'alice' } })
    expect(auth.stats.refreshCalls).toBe(1)
    client.stop()
  })

  test('a link or exchange that cannot sign refuses a signing manager, pointing to createAuthFetch', async () => {
    const auth = await server()
    const { manager } = await session(auth)
    expect(() => createAuthLink(manager)).toThrow(/createAuthFetch\(manager\)/)
    expect(() => createAuthConfig(manager)).toThrow(TypeError)
  })
})

describe('DPoP on the refresh grant', () => {
  test('a proof without ath; a 400 use_dpop_nonce is sent again once with the nonce', async () => {
    const auth = await server({ nonces: true })
    const { manager } = await session(auth)
    auth.rotateNonce()
    await manager.refresh()
    const token = auth.proofs.filter((p) => p.path === '/token')
    expect(token).toHaveLength(2)
    expect(token.map((p) => p.payload.ath)).toEqual([undefined, undefined])
    expect(token[1]!.payload.nonce).toBe(auth.nonce)
    expect(auth.stats.refreshCalls).toBe(1)
  })

  test('a token endpoint that keeps asking for a nonce fails the refresh for now, it does not sign out', async () => {
    const auth = await server()
    const key = dpop()
    const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${auth.url}/token`, fetch: key.fetch }), sender: key, retry: { attempts: 0 } })
    cleanups.push(() => manager.dispose())
    await login(key, auth, manager)
    auth.levers.alwaysChallenge = true
    const error = await manager.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshFailedError)
    expect((error as Error).cause).toBeInstanceOf(DPoPNonceError)
    expect(manager.getState().status).toBe('signedIn')
  })

  test('a stolen refresh token is refused without the key, and the family goes on', async () => {
    const auth = await server()
    const stolen: string[] = []
    const key = dpop()
    const manager = createTokenManager({
      refresh: refreshTokenGrant({ url: `${auth.url}/token`, fetch: key.fetch }),
      sender: key,
      storage: {
        get: () => null,
        set: (tokens) => void stolen.push(tokens.refreshToken!),
        clear: () => {},
      },
    })
    cleanups.push(() => manager.dispose())
    await login(key, auth, manager)
    const refreshToken = stolen.at(-1)!
    // The thief has the token and a key of its own: the proof is valid, the binding is not.
    const thief = dpop()
    const withOwnKey = await thief.fetch(`${auth.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${refreshToken}` })
    expect(withOwnKey.status).toBe(400)
    expect(await withOwnKey.json()).toEqual({ error: 'invalid_grant' })
    // Without a proof at all.
    const bare = await fetch(`${auth.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${refreshToken}` })
    expect(bare.status).toBe(400)
    // The owner's refresh still works.
    await manager.refresh()
    expect(auth.stats.refreshCalls).toBe(2)
    // Both refused: with the wrong key, and without a proof.
    expect(auth.stats.refreshRefused).toBe(2)
  })
})

describe('dpop()', () => {
  test('without WebCrypto it fails at creation with a clear TypeError', () => {
    expect(() => dpop({ crypto: {} as Crypto })).toThrow(TypeError)
    expect(() => dpop({ crypto: {} as Crypto })).toThrow(/WebCrypto \(crypto\.subtle\) is not available/)
    const original = Object.getOwnPropertyDescriptor(globalThis, 'crypto')!
    Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true })
    try {
      expect(() => dpop()).toThrow(TypeError)
    } finally {
      Object.defineProperty(globalThis, 'crypto', original)
    }
  })

  test('bad options name themselves', () => {
    expect(() => dpop({ key: '' })).toThrow(/"key"/)
    expect(() => dpop({ store: {} as never })).toThrow(/"store"/)
  })

  test('the private key is not extractable', async () => {
    const pairs: CryptoKeyPair[] = []
    const key = dpop({ store: { get: () => pairs[0] as never, set: (_, pair) => void pairs.push(pair), delete: () => {} } })
    await key.proof('GET', 'https://api.example.com/x')
    expect(pairs[0]!.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('jwk', pairs[0]!.privateKey)).rejects.toThrow()
  })
})
