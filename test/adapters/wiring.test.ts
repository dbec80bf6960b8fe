import axios from 'axios'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createTokenManager, refreshTokenGrant, type TokenManager } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'

// Bad wiring fails where it is written, with a message that says what to pass,
// instead of "Cannot read properties of undefined" at the first request.
const manager = createTokenManager({ refresh: async () => ({ accessToken: 'a' }) })
const missing = undefined as unknown as TokenManager

describe('attachAxios', () => {
  it('without a manager throws at the call, naming createTokenManager', () => {
    const api = axios.create()
    expect(() => attachAxios(api, missing)).toThrow(TypeError)
    expect(() => attachAxios(api, missing)).toThrow('attachAxios(instance, manager): "manager" must be the token manager from createTokenManager({ refresh })')
    expect(api.interceptors.request).toMatchObject({ handlers: [] }) // nothing was attached
  })

  it('with the arguments swapped, or no instance, throws naming axios.create', () => {
    const api = axios.create()
    expect(() => attachAxios(manager as never, api as never)).toThrow('"instance" must be an axios instance, such as axios.create({ baseURL })')
    expect(() => attachAxios(undefined as never, manager)).toThrow(TypeError)
    expect(() => attachAxios({} as never, manager)).toThrow(TypeError)
  })

  it('accepts the axios default export as well as an instance', () => {
    const detach = attachAxios(axios, manager)
    detach()
  })
})

describe('createAuthFetch', () => {
  it('without a manager throws at the call, naming createTokenManager', () => {
    expect(() => createAuthFetch(missing)).toThrow(TypeError)
    expect(() => createAuthFetch(missing)).toThrow('createAuthFetch(manager, options?): "manager" must be the token manager from createTokenManager({ refresh })')
    expect(() => createAuthFetch({ fetch } as never)).toThrow(TypeError)
    expect(() => createAuthFetch(fetch as never)).toThrow(TypeError)
  })
})

describe('refreshTokenGrant with a relative URL', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('throws at the call where there is no page (Node), saying to pass an absolute URL', () => {
    for (const url of ['/auth/token', 'auth/token', '//auth.example.com/token', '?x']) {
      expect(() => refreshTokenGrant({ url })).toThrow(TypeError)
      expect(() => refreshTokenGrant({ url })).toThrow(`"url" must be absolute here ("${url}" is relative`)
    }
  })

  it('is fine with an absolute URL, and with a relative one where a page resolves it (browser, worker)', () => {
    expect(() => refreshTokenGrant({ url: 'https://auth.example.com/oauth/token' })).not.toThrow()
    expect(() => refreshTokenGrant({ url: 'http://127.0.0.1:3000/auth/token' })).not.toThrow()
    vi.stubGlobal('location', { href: 'https://app.example.com/dashboard' })
    expect(() => refreshTokenGrant({ url: '/auth/token' })).not.toThrow()
  })
})
