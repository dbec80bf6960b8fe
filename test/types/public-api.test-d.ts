// Type-level contract of "silent-refresh": the names and shapes DESIGN.md promises.
import { describe, expectTypeOf, test } from 'vitest'
import {
  AuthError,
  createTokenManager,
  isAuthError,
  RefreshFailedError,
  SessionExpiredError,
  type AuthErrorCode,
  type RefreshFn,
  type SignOutReason,
  type TokenManager,
  type TokenManagerOptions,
  type TokenSet,
  type TokenStorage,
  type AccessToken,
  type TokenStamp,
  type ManagerState,
} from '../../src/index.js'
import { createAuthFetch, type AuthFetchOptions } from '../../src/adapters/fetch.js'

declare const manager: TokenManager

describe('TokenSet and RefreshFn', () => {
  test('TokenSet shape', () => {
    expectTypeOf<TokenSet>().toEqualTypeOf<{
      accessToken: string
      refreshToken?: string | null
      expiresAt?: number
      expiresIn?: number
      sessionId?: string
    }>()
    // @ts-expect-error accessToken is required
    const _missing: TokenSet = { refreshToken: 'r' }
    const _cookieMode: TokenSet = { accessToken: 'a', refreshToken: null }
  })

  test('RefreshFn signature', () => {
    expectTypeOf<RefreshFn>().toEqualTypeOf<(ctx: { refreshToken: string | null; signal: AbortSignal }) => Promise<TokenSet>>()
    expectTypeOf<RefreshFn>().parameter(0).toHaveProperty('refreshToken').toEqualTypeOf<string | null>()
    expectTypeOf<RefreshFn>().returns.resolves.toEqualTypeOf<TokenSet>()
    // @ts-expect-error a refresh function must return a promise of tokens
    const _sync: RefreshFn = () => ({ accessToken: 'a' })
  })

  test('createTokenManager takes its options and returns a TokenManager', () => {
    expectTypeOf(createTokenManager).parameter(0).toEqualTypeOf<TokenManagerOptions>()
    expectTypeOf(createTokenManager).returns.toEqualTypeOf<TokenManager>()
    expectTypeOf<TokenManagerOptions['refresh']>().toEqualTypeOf<RefreshFn>()
    expectTypeOf<TokenManagerOptions['storage']>().toEqualTypeOf<TokenStorage | undefined>()
    expectTypeOf<TokenManagerOptions['retry']>().toEqualTypeOf<{ attempts?: number; baseDelayMs?: number; cooldownMs?: number } | undefined>()
    expectTypeOf<TokenManagerOptions['storageTimeoutMs']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<TokenManagerOptions['isSessionExpired']>().toEqualTypeOf<((error: unknown) => boolean) | undefined>()
    // @ts-expect-error refresh is required
    createTokenManager({})
  })
})

describe('retry', () => {
  const refresh: RefreshFn = async () => ({ accessToken: 'a' })

  test('each field is optional, as the runtime defaults each one on its own', () => {
    createTokenManager({ refresh, retry: { attempts: 0 } })
    createTokenManager({ refresh, retry: { baseDelayMs: 50 } })
    createTokenManager({ refresh, retry: {} })
    createTokenManager({ refresh, retry: { attempts: 3, baseDelayMs: 100 } })
  })

  test('fields are numbers', () => {
    // @ts-expect-error attempts is a number
    createTokenManager({ refresh, retry: { attempts: '2' } })
    // @ts-expect-error no such field
    createTokenManager({ refresh, retry: { attempt: 2 } })
  })
})

describe('TokenManager', () => {
  test('methods', () => {
    expectTypeOf(manager.getAccessToken).returns.toEqualTypeOf<Promise<string | null>>()
    expectTypeOf(manager.getAccessToken).toBeCallableWith({ signal: new AbortController().signal })
    expectTypeOf(manager.refresh).returns.toEqualTypeOf<Promise<string>>()
    expectTypeOf(manager.refresh).toBeCallableWith({ staleToken: 't', signal: AbortSignal.abort() })
    expectTypeOf(manager.setTokens).parameter(0).toEqualTypeOf<TokenSet>()
    expectTypeOf(manager.setTokens).returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf(manager.clear).returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf(manager.isRefreshing).toEqualTypeOf<boolean>()
    expectTypeOf(manager.dispose).returns.toEqualTypeOf<void>()
    expectTypeOf(manager.getToken).returns.toEqualTypeOf<Promise<AccessToken | null>>()
    expectTypeOf(manager.peekToken).returns.toEqualTypeOf<AccessToken | null | undefined>()
    expectTypeOf(manager.tokenRejected).parameter(0).toEqualTypeOf<TokenStamp | null>()
    expectTypeOf(manager.tokenRejected).returns.toEqualTypeOf<Promise<AccessToken | null>>()
    expectTypeOf(manager.getState).returns.toEqualTypeOf<ManagerState>()
  })

  test('a stamp carries no token; an access token is a stamp with its value', () => {
    expectTypeOf<TokenStamp>().toEqualTypeOf<{ readonly session: string; readonly generation: number }>()
    expectTypeOf<AccessToken>().toMatchTypeOf<TokenStamp>()
    expectTypeOf<AccessToken['value']>().toEqualTypeOf<string>()
  })

  test('state narrows by status', () => {
    const state = manager.getState()
    if (state.status === 'signedIn') expectTypeOf(state.session).toEqualTypeOf<string>()
    if (state.status === 'signedOut') expectTypeOf(state.reason).toEqualTypeOf<'expired' | 'cleared' | 'remote' | 'none'>()
  })

  test('isRefreshing is read-only', () => {
    // @ts-expect-error readonly
    manager.isRefreshing = true
  })

  test('on() narrows each event payload and returns the unsubscribe function', () => {
    const off = manager.on('signedOut', (event) => {
      expectTypeOf(event.reason).toEqualTypeOf<'expired' | 'cleared' | 'remote'>()
    })
    expectTypeOf(off).toEqualTypeOf<() => void>()
    expectTypeOf<SignOutReason>().toEqualTypeOf<'expired' | 'cleared' | 'remote'>()
    manager.on('tokens', (tokens) => expectTypeOf(tokens).toEqualTypeOf<TokenSet>())
    manager.on('refreshFailed', ({ error }) => expectTypeOf(error).toEqualTypeOf<AuthError>())
    manager.on('error', ({ source }) => expectTypeOf(source).toEqualTypeOf<'storage' | 'cross-tab' | 'listener' | 'expiry'>())
    manager.on('unauthorized', ({ outcome }) => expectTypeOf(outcome).toEqualTypeOf<'retry' | 'refresh' | 'handed-back'>())
    manager.on('state', (state) => expectTypeOf(state).toEqualTypeOf<ManagerState>())
    manager.on('refresh', () => {})
    // @ts-expect-error unknown event
    manager.on('signedIn', () => {})
    // @ts-expect-error the signedOut payload has no error
    manager.on('signedOut', (event) => event.error)
  })
})

describe('errors', () => {
  test('AuthError code union', () => {
    expectTypeOf<AuthErrorCode>().toEqualTypeOf<'SESSION_EXPIRED' | 'REFRESH_FAILED' | 'REFRESH_TIMEOUT' | 'NOT_SIGNED_IN' | 'DISPOSED' | 'BODY_NOT_REPLAYABLE' | 'REDIRECT_BLOCKED'>()
    expectTypeOf<AuthError['code']>().toEqualTypeOf<AuthErrorCode>()
    expectTypeOf<AuthError>().toMatchTypeOf<Error>()
  })

  test('SessionExpiredError and RefreshFailedError extend AuthError', () => {
    expectTypeOf<SessionExpiredError>().toMatchTypeOf<AuthError>()
    expectTypeOf<RefreshFailedError>().toMatchTypeOf<AuthError>()
    expectTypeOf(new SessionExpiredError()).toMatchTypeOf<AuthError>()
    expectTypeOf<RefreshFailedError['code']>().toMatchTypeOf<AuthErrorCode>()
    expectTypeOf<SessionExpiredError['code']>().toMatchTypeOf<AuthErrorCode>()
    expectTypeOf<SessionExpiredError['code']>().toEqualTypeOf<'SESSION_EXPIRED'>()
    expectTypeOf<RefreshFailedError['code']>().toEqualTypeOf<'REFRESH_FAILED' | 'REFRESH_TIMEOUT'>()
    // @ts-expect-error SessionExpiredError takes no code: it is always SESSION_EXPIRED
    new SessionExpiredError('REFRESH_FAILED')
  })

  test('code tells the two subclasses apart', () => {
    const error = new SessionExpiredError() as SessionExpiredError | RefreshFailedError
    if (error.code === 'SESSION_EXPIRED') expectTypeOf(error).toEqualTypeOf<SessionExpiredError>()
    else expectTypeOf(error).toEqualTypeOf<RefreshFailedError>()
  })

  test('isAuthError is a type guard', () => {
    const error: unknown = new Error('x')
    if (isAuthError(error)) expectTypeOf(error).toEqualTypeOf<AuthError>()
    expectTypeOf(isAuthError).guards.toEqualTypeOf<AuthError>()
  })
})

describe('createAuthFetch', () => {
  test('returns typeof fetch', () => {
    const authFetch = createAuthFetch(manager)
    expectTypeOf(authFetch).toEqualTypeOf<typeof fetch>()
    expectTypeOf(authFetch('https://api.example.com')).toEqualTypeOf<Promise<Response>>()
  })

  test('options', () => {
    expectTypeOf<AuthFetchOptions['shouldRefresh']>().toEqualTypeOf<((response: Response) => boolean | Promise<boolean>) | undefined>()
    expectTypeOf<AuthFetchOptions['allowedOrigins']>().toEqualTypeOf<string[] | undefined>()
    expectTypeOf<AuthFetchOptions['fetch']>().toEqualTypeOf<typeof fetch | undefined>()
    // @ts-expect-error header is a string
    createAuthFetch(manager, { header: 1 })
  })
})
