// Type-level contract of "silent-refresh/dpop" and the manager's generic `sender` hook.
import { describe, expectTypeOf, test } from 'vitest'
import { createTokenManager, refreshTokenGrant, type RequestSender, type TokenManager, type TokenManagerOptions } from '../../src/index.js'
import { dpop, memoryKeyStore, indexedDbKeyStore, DPoPNonceError, type DPoP, type DPoPKeyStore, type DPoPOptions } from '../../src/dpop/index.js'

describe('silent-refresh/dpop', () => {
  test('dpop() is a RequestSender for createTokenManager, and its fetch goes to refreshTokenGrant', () => {
    const key = dpop()
    expectTypeOf(key).toExtend<RequestSender>()
    expectTypeOf(key.scheme).toEqualTypeOf<'DPoP'>()
    expectTypeOf(key.fetch).toEqualTypeOf<typeof fetch>()
    expectTypeOf(createTokenManager({ refresh: refreshTokenGrant({ url: 'https://a.example/token', fetch: key.fetch }), sender: key })).toEqualTypeOf<TokenManager>()
    expectTypeOf<TokenManagerOptions['sender']>().toEqualTypeOf<RequestSender | undefined>()
    expectTypeOf<TokenManager['sender']>().toEqualTypeOf<RequestSender | undefined>()
  })

  test('options and stores', () => {
    expectTypeOf(dpop).parameter(0).toEqualTypeOf<DPoPOptions | undefined>()
    expectTypeOf(memoryKeyStore()).toEqualTypeOf<DPoPKeyStore>()
    expectTypeOf(indexedDbKeyStore).returns.toEqualTypeOf<DPoPKeyStore>()
    expectTypeOf<DPoP['proof']>().returns.toEqualTypeOf<Promise<string>>()
    expectTypeOf(new DPoPNonceError('x').code).toEqualTypeOf<'DPOP_NONCE_LOOP'>()
    // @ts-expect-error: the scope is a string
    dpop({ key: 1 })
  })
})
