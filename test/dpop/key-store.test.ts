// The DPoP key and its stores: IndexedDB (fake-indexeddb; the real one runs in
// Chromium in test/e2e/dpop-cross-tab.test.ts), memory, and the proof's claims
// on a fake clock.
import { IDBFactory } from 'fake-indexeddb'
import { calculateJwkThumbprint, decodeProtectedHeader, decodeJwt, type JWK } from 'jose'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { createTokenManager, type TokenManager } from '../../src/index.js'
import { dpop, indexedDbKeyStore, memoryKeyStore } from '../../src/dpop/index.js'
import { NOW, useFakeClock } from '../helpers/fake-time.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('indexedDbKeyStore', () => {
  test('tabs that make a key at the same time end with one key', async () => {
    const idb = new IDBFactory()
    // Four "tabs": each its own store object and dpop(), one database.
    const tabs = Array.from({ length: 4 }, () => dpop({ store: indexedDbKeyStore('dpop-test', idb) }))
    const thumbprints = await Promise.all(tabs.map((tab) => tab.thumbprint()))
    expect(new Set(thumbprints).size).toBe(1)
    // A fifth tab, later (a reload), finds the same key.
    expect(await dpop({ store: indexedDbKeyStore('dpop-test', idb) }).thumbprint()).toBe(thumbprints[0])
  })

  test('a stored private key stays non-extractable and signs', async () => {
    const idb = new IDBFactory()
    const store = indexedDbKeyStore('dpop-test', idb)
    const key = dpop({ store })
    const proof = await key.proof('GET', 'https://api.example.com/x')
    const pair = await store.get('silent-refresh')
    expect(pair!.privateKey.extractable).toBe(false)
    expect(await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK, 'sha256')).toBe(await key.thumbprint())
  })

  test('a reset forgets the key only if it is still the one stored (another tab may have made a new one)', async () => {
    const idb = new IDBFactory()
    const tabA = dpop({ store: indexedDbKeyStore('dpop-test', idb) })
    const tabB = dpop({ store: indexedDbKeyStore('dpop-test', idb) })
    const first = await tabA.thumbprint()
    expect(await tabB.thumbprint()).toBe(first)
    // Tab A signs out and its next login makes a new key...
    await tabA.reset()
    const second = await tabA.thumbprint()
    expect(second).not.toBe(first)
    // ...then tab B hears of the sign-out: its reset must not delete tab A's new key.
    await tabB.reset()
    expect(await tabB.thumbprint()).toBe(second)
    expect(await dpop({ store: indexedDbKeyStore('dpop-test', idb) }).thumbprint()).toBe(second)
  })

  test('the default store is IndexedDB where there is one, scoped by "key"', async () => {
    vi.stubGlobal('indexedDB', new IDBFactory())
    const a = await dpop({ key: 'app-a' }).thumbprint()
    expect(await dpop({ key: 'app-a' }).thumbprint()).toBe(a)
    expect(await dpop({ key: 'app-b' }).thumbprint()).not.toBe(a)
  })
})

describe('memoryKeyStore', () => {
  test('one key per dpop() in Node unless a store is shared', async () => {
    expect(await dpop().thumbprint()).not.toBe(await dpop().thumbprint())
    const store = memoryKeyStore()
    expect(await dpop({ store }).thumbprint()).toBe(await dpop({ store }).thumbprint())
  })

  test('a store that fails is tried again at the next proof', async () => {
    let fail = true
    const inner = memoryKeyStore()
    const key = dpop({
      store: {
        get: (name) => {
          if (fail) throw new Error('locked')
          return inner.get(name)
        },
        set: inner.set,
        delete: inner.delete,
      },
    })
    await expect(key.proof('GET', 'https://a.example/x')).rejects.toThrow('locked')
    fail = false
    await expect(key.proof('GET', 'https://a.example/x')).resolves.toMatch(/^ey/)
  })
})

describe('proof claims', () => {
  useFakeClock({ fake: 'timers' })

  test('iat follows the clock, jti is new each time, htu drops query and fragment, ath is SHA-256 of the token', async () => {
    const key = dpop()
    const one = decodeJwt(await key.proof('post', 'https://API.example.com:443/a/b?x=1#y', 'token-1'))
    vi.setSystemTime(NOW + 90_000)
    const two = decodeJwt(await key.proof('GET', 'https://api.example.com/a/b'))
    expect(one).toMatchObject({ htm: 'POST', htu: 'https://api.example.com/a/b', iat: NOW / 1000 })
    expect(two).toMatchObject({ htm: 'GET', htu: 'https://api.example.com/a/b', iat: NOW / 1000 + 90 })
    expect(two.ath).toBeUndefined()
    expect(one.jti).not.toBe(two.jti)
    const digest = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('token-1'))).toString('base64url')
    expect(one.ath).toBe(digest)
  })

  test('a relative URL without a page is a clear error, not a wrong htu', async () => {
    await expect(dpop().proof('GET', '/api/me')).rejects.toThrow(/not an absolute URL/)
    // The query is left out of the message: it may hold a secret.
    const error = (await dpop()
      .proof('GET', '/api/me?access_token=SECRET')
      .catch((e: unknown) => e)) as Error
    expect(error.message).toContain('"/api/me"')
    expect(error.message).not.toContain('SECRET')
  })

  test('the manager connects the key: a sign-out from a refused refresh forgets it too', async () => {
    const key = dpop()
    const manager: TokenManager = createTokenManager({ refresh: () => Promise.reject(Object.assign(new Error('no'), { status: 400 })), sender: key, retry: { attempts: 0 } })
    await manager.setTokens({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 })
    const before = await key.thumbprint()
    await manager.refresh().catch(() => {})
    expect(manager.getState().status).toBe('signedOut')
    await vi.waitFor(async () => expect(await key.thumbprint()).not.toBe(before))
    manager.dispose()
  })
})
