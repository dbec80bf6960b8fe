// Type-level contract of "silent-refresh/axios": attachAxios's signature and the
// `skipAuth` request option, added to axios's config types by module augmentation.
import axios, { type AxiosError, type AxiosRequestConfig, type InternalAxiosRequestConfig } from 'axios'
import { describe, expectTypeOf, test } from 'vitest'
import type { TokenManager } from '../../src/index.js'
import { attachAxios, type AttachAxiosOptions } from '../../src/adapters/axios.js'

declare const manager: TokenManager
const api = axios.create({ baseURL: 'https://api.example.com' })

describe('skipAuth', () => {
  test('is accepted on request configs without casts', () => {
    void api.get('/login', { skipAuth: true })
    void api.post('/auth/token', { grant_type: 'refresh_token' }, { skipAuth: true })
    void api.request({ url: '/x', method: 'GET', skipAuth: false })
    void axios.get('/x', { skipAuth: true })
    const config: AxiosRequestConfig = { skipAuth: true }
    expectTypeOf(config.skipAuth).toEqualTypeOf<boolean | undefined>()
    expectTypeOf<InternalAxiosRequestConfig['skipAuth']>().toEqualTypeOf<boolean | undefined>()
    api.interceptors.request.use((c) => {
      expectTypeOf(c.skipAuth).toEqualTypeOf<boolean | undefined>()
      return c
    })
  })

  test('must be a boolean', () => {
    // @ts-expect-error skipAuth is a boolean
    void api.get('/x', { skipAuth: 'yes' })
    // @ts-expect-error skipAuth is a boolean
    const _config: AxiosRequestConfig = { skipAuth: 1 }
  })
})

describe('attachAxios', () => {
  test('returns the detach function', () => {
    const detach = attachAxios(api, manager)
    expectTypeOf(detach).toEqualTypeOf<() => void>()
    expectTypeOf(attachAxios).returns.toEqualTypeOf<() => void>()
  })

  test('options', () => {
    expectTypeOf<AttachAxiosOptions>().toEqualTypeOf<{
      header?: string
      scheme?: string
      shouldRefresh?: (error: AxiosError) => boolean | Promise<boolean>
      allowedOrigins?: string[]
    }>()
    attachAxios(api, manager, { shouldRefresh: (error) => error.response?.status === 419 })
    // @ts-expect-error allowedOrigins is a list
    attachAxios(api, manager, { allowedOrigins: 'https://api.example.com' })
    // @ts-expect-error the first argument is an axios instance
    attachAxios({}, manager)
  })
})
