import { describe, expect, it } from 'vitest'
import { AuthError, RefreshFailedError, SessionExpiredError, isAuthError, isSessionExpired } from '../../src/index.js'

describe('error classes', () => {
  it('AuthError carries code, name, message and cause', () => {
    const cause = new Error('root')
    const error = new AuthError('NOT_SIGNED_IN', 'Not signed in', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('AuthError')
    expect(error.code).toBe('NOT_SIGNED_IN')
    expect(error.message).toBe('Not signed in')
    expect(error.cause).toBe(cause)
  })

  it('SessionExpiredError is an AuthError with code SESSION_EXPIRED and keeps its cause', () => {
    const cause = { status: 400, error: 'invalid_grant' }
    const error = new SessionExpiredError({ cause })
    expect(error).toBeInstanceOf(AuthError)
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('SessionExpiredError')
    expect(error.code).toBe('SESSION_EXPIRED')
    expect(error.cause).toBe(cause)
    expect(error.message.length).toBeGreaterThan(0)
    expect(new SessionExpiredError().cause).toBeUndefined()
  })

  it.each(['REFRESH_FAILED', 'REFRESH_TIMEOUT'] as const)('RefreshFailedError with code %s', (code) => {
    const error = new RefreshFailedError(code, 'failed', { cause: 'x' })
    expect(error).toBeInstanceOf(AuthError)
    expect(error).not.toBeInstanceOf(SessionExpiredError)
    expect(error.name).toBe('RefreshFailedError')
    expect(error.code).toBe(code)
    expect(error.cause).toBe('x')
  })

  it('String(error) names the class, so logs say what failed', () => {
    expect(String(new SessionExpiredError())).toMatch(/^SessionExpiredError: /)
    expect(String(new RefreshFailedError('REFRESH_TIMEOUT', 'late'))).toBe('RefreshFailedError: late')
  })
})

describe('isAuthError', () => {
  it('recognises this copy’s errors', () => {
    expect(isAuthError(new AuthError('DISPOSED', 'x'))).toBe(true)
    expect(isAuthError(new SessionExpiredError())).toBe(true)
    expect(isAuthError(new RefreshFailedError('REFRESH_FAILED', 'x'))).toBe(true)
  })

  it('recognises errors of another copy of the package (ESM beside CJS) by name and code', () => {
    for (const name of ['AuthError', 'SessionExpiredError', 'RefreshFailedError']) {
      class Foreign extends Error {
        code = 'SESSION_EXPIRED'
      }
      const error = new Foreign('from the other copy')
      error.name = name
      expect(isAuthError(error), name).toBe(true)
    }
  })

  it('rejects look-alikes', () => {
    expect(isAuthError(new Error('plain'))).toBe(false)
    expect(isAuthError(Object.assign(new Error('no code'), { name: 'AuthError' }))).toBe(false)
    expect(isAuthError(Object.assign(new Error('other name'), { name: 'TypeError', code: 'SESSION_EXPIRED' }))).toBe(false)
    expect(isAuthError({ name: 'AuthError', code: 'SESSION_EXPIRED', message: 'not an Error' })).toBe(false)
    expect(isAuthError(null)).toBe(false)
    expect(isAuthError(undefined)).toBe(false)
    expect(isAuthError('AuthError')).toBe(false)
  })
})

describe('isSessionExpired (default terminal test)', () => {
  const axiosLike = (status: number, data?: unknown) => Object.assign(new Error(`Request failed with status code ${status}`), { response: { status, data } })

  it.each([
    ['status 400', { status: 400 }],
    ['status 401', { status: 401 }],
    ['status 403', { status: 403 }],
    ['fetch Response-like 401', Object.assign(new Error('x'), { status: 401 })],
    ['axios response.status 400', axiosLike(400)],
    ['axios response.status 403', axiosLike(403)],
    ['error invalid_grant', { error: 'invalid_grant' }],
    ['code invalid_grant', { code: 'invalid_grant' }],
    ['response.data.error invalid_grant on a 500', axiosLike(500, { error: 'invalid_grant' })],
    ['status 401 in cause', new Error('wrapped', { cause: { status: 401 } })],
    ['invalid_grant in cause', new Error('wrapped', { cause: { error: 'invalid_grant' } })],
    ['axios 403 as the cause of a wrapping error', new Error('a', { cause: axiosLike(403) })],
  ])('terminal: %s', (_, error) => {
    expect(isSessionExpired(error)).toBe(true)
  })

  it.each([
    ['network TypeError', new TypeError('fetch failed')],
    ['status 500', { status: 500 }],
    ['status 502', { status: 502 }],
    ['status 503', { status: 503 }],
    ['status 429', { status: 429 }],
    ['status 404', { status: 404 }],
    ['status as a string "401"', { status: '401' }],
    ['axios 503', axiosLike(503)],
    ['axios without response (network)', Object.assign(new Error('Network Error'), { code: 'ERR_NETWORK' })],
    ['other OAuth error', { status: 500, error: 'server_error' }],
    ['invalid_grant in an unrelated field', { message: 'invalid_grant' }],
    ['RefreshFailedError timeout', new RefreshFailedError('REFRESH_TIMEOUT', 'late')],
    ['AbortError', Object.assign(new Error('aborted'), { name: 'AbortError' })],
    ['null', null],
    ['undefined', undefined],
    ['a number', 401],
    ['a string', 'invalid_grant'],
  ])('transient: %s', (_, error) => {
    expect(isSessionExpired(error)).toBe(false)
  })

  it('a cause cycle terminates', () => {
    const error: Error & { cause?: unknown } = new Error('loop')
    error.cause = error
    expect(isSessionExpired(error)).toBe(false)
  })

  it('a getter that is not an object in cause does not throw', () => {
    expect(isSessionExpired(new Error('x', { cause: 'just text' }))).toBe(false)
  })
})

describe('cause without the request (DESIGN 8)', () => {
  const secret = 'refresh-SECRET-9f1c'

  it('keeps a cause that carries nothing to drop as it is', () => {
    const plain = Object.assign(new Error('POST /token answered 400'), { status: 400, error: 'invalid_grant' })
    expect(new SessionExpiredError({ cause: plain }).cause).toBe(plain)
    const axiosLike = Object.assign(new Error('x'), { response: { status: 500, data: { error: 'invalid_grant' } } })
    expect(new SessionExpiredError({ cause: axiosLike }).cause).toBe(axiosLike)
  })

  it('copies a client error that carries its request, keeping prototype, message, stack, codes and status', () => {
    class HTTPError extends Error {
      override name = 'HTTPError'
      options = { method: 'POST', body: `refresh_token=${secret}` }
      request = { headers: { cookie: secret } }
      response = { status: 400, statusText: 'Bad Request', data: { error: 'invalid_grant' }, config: { data: secret } }
      code = 'ERR_BAD_REQUEST'
    }
    const original = new HTTPError('Request failed with status code 400')
    const error = new SessionExpiredError({ cause: original })
    const cause = error.cause as HTTPError
    expect(cause).not.toBe(original)
    expect(cause).toBeInstanceOf(HTTPError)
    expect([cause.name, cause.message, cause.code, cause.stack]).toEqual([original.name, original.message, original.code, original.stack])
    expect(cause.response).toEqual({ status: 400, statusText: 'Bad Request', data: { error: 'invalid_grant' } })
    expect(cause).not.toHaveProperty('options')
    expect(cause).not.toHaveProperty('request')
    expect(JSON.stringify(cause)).not.toContain(secret)
    expect(isSessionExpired(cause)).toBe(true)
    // The original is left untouched.
    expect(original.options.body).toContain(secret)
  })

  it('drops the body of a 2xx answer (it may hold tokens) and redacts causes of causes', () => {
    const inner = Object.assign(new Error('bad token response'), { response: { status: 200, data: { access_token: secret } } })
    const outer = new Error('refresh failed', { cause: inner })
    const error = new RefreshFailedError('REFRESH_FAILED', 'failed', { cause: outer })
    const cause = error.cause as Error & { cause: { response: unknown } }
    expect(cause).not.toBe(outer)
    expect(cause.message).toBe('refresh failed')
    expect(cause.cause.response).toEqual({ status: 200, statusText: undefined })
    expect(JSON.stringify(cause.cause)).not.toContain(secret)
  })

  it('a cause cycle terminates', () => {
    const looped: Error & { cause?: unknown; config?: unknown } = new Error('loop')
    looped.cause = looped
    looped.config = { data: secret }
    expect(() => new RefreshFailedError('REFRESH_FAILED', 'x', { cause: looped })).not.toThrow()
  })
})
