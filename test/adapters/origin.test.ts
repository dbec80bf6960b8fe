// Which URLs may carry the token: the origin rules themselves, then both adapters
// against https hosts that only msw can stand up (default ports, look-alike hosts).
import axios from 'axios'
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import { createTokenManager, type TokenManager } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { createOriginCheck, isAllowed, normalizeOrigins, originOf } from '../../src/adapters/internal/origin.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('originOf', () => {
  test.each([
    ['https://api.example.com/a?b#c', 'https://api.example.com'],
    ['HTTPS://API.Example.COM:443/x', 'https://api.example.com'],
    ['http://a.test:80/', 'http://a.test'],
    ['http://a.test:8080/', 'http://a.test:8080'],
    ['  http://a.test/', 'http://a.test'],
    ['\thttp://a.test/\n', 'http://a.test'],
    ['http://good.test@evil.test/', 'http://evil.test'],
    ['http://evil.test\\@good.test/', 'http://evil.test'],
    ['http://evil.test#@good.test/', 'http://evil.test'],
    ['http://[::1]:3000/', 'http://[::1]:3000'],
    ['http://0x7f.1/', 'http://127.0.0.1'],
  ])('%j is sent to %j', (url, origin) => {
    expect(originOf(url)).toBe(origin)
  })

  test('opaque and unparseable URLs have no usable origin', () => {
    expect(originOf('data:text/plain,x')).toBe('null')
    expect(originOf('javascript:alert(1)')).toBe('null')
    expect(originOf('http://')).toBeNull()
  })
})

describe('normalizeOrigins', () => {
  test('keeps only the origin of each entry', () => {
    expect(normalizeOrigins(['HTTPS://API.example.com:443/v1/', 'http://a.test:8080?x'])).toEqual([
      'https://api.example.com',
      'http://a.test:8080',
    ])
    expect(normalizeOrigins(undefined)).toEqual([])
  })

  test.each(['api.example.com', '//api.example.com', '/v1', '', 'file:///etc/passwd', 'data:text/plain,x', 'https://'])(
    '%j throws a TypeError naming "allowedOrigins"',
    (entry) => {
      expect(() => normalizeOrigins([entry])).toThrow(TypeError)
      expect(() => normalizeOrigins([entry])).toThrow(/"allowedOrigins"/)
    },
  )
})

describe('isAllowed without a page (Node)', () => {
  const allowed = ['https://api.example.com']

  test('relative URLs, the extra (baseURL) origin and allowed origins', () => {
    expect(isAllowed('/me', [])).toBe(true)
    expect(isAllowed('me?x=1', [])).toBe(true)
    expect(isAllowed('https://api.example.com/me', allowed)).toBe(true)
    expect(isAllowed('https://API.EXAMPLE.COM:443/me', allowed)).toBe(true)
    expect(isAllowed('https://base.test/v1/me', [], 'https://base.test/v1')).toBe(true)
  })

  test.each([
    'https://api.example.com.evil.test/',
    'https://evil.test/api.example.com',
    'http://api.example.com/',
    'https://api.example.com:8443/',
    '//evil.test/x',
    ' https://evil.test/',
    'https://api.example.com@evil.test/',
    'https://evil.test\\@api.example.com/',
    'data:text/plain,x',
  ])('%j is not allowed', (url) => {
    expect(isAllowed(url, allowed, 'https://base.test')).toBe(false)
  })

  test('an absolute URL to the placeholder "relative" origin is not allowed', () => {
    // Without a page the module resolves relative URLs against http://relative.invalid; that
    // placeholder must not make a real absolute URL to that host count as relative.
    expect(isAllowed('http://relative.invalid/collect', [])).toBe(false)
  })
})

describe('createOriginCheck (answers remembered per URL)', () => {
  test('answers as isAllowed, and again when the page or the extra origin (axios baseURL) changes', () => {
    let baseURL: string | undefined = 'https://base.test'
    const check = createOriginCheck(['https://api.example.com'], () => baseURL)
    expect([check('/me'), check('https://base.test/x'), check('https://api.example.com/x'), check('https://evil.test/')]).toEqual([true, true, true, false])
    baseURL = 'https://other.test'
    expect([check('https://base.test/x'), check('https://other.test/x')]).toEqual([false, true])
    vi.stubGlobal('location', { href: 'https://app.example.com/', origin: 'https://app.example.com' })
    expect([check('//app.example.com/x'), check('https://app.example.com/x')]).toEqual([true, true])
    vi.stubGlobal('location', { href: 'https://elsewhere.test/', origin: 'https://elsewhere.test' })
    expect(check('https://app.example.com/x')).toBe(false)
  })

  test('stays right past its memory limit', () => {
    const check = createOriginCheck(['https://api.example.com'])
    for (let i = 0; i < 1_200; i++) expect(check(`https://${i % 2 ? 'api.example.com' : 'evil.test'}/item/${i}`)).toBe(i % 2 === 1)
  })
})

describe('isAllowed on a page', () => {
  test('relative URLs resolve against location; the page origin is allowed, its look-alikes are not', () => {
    vi.stubGlobal('location', { href: 'https://app.example.com/dashboard/', origin: 'https://app.example.com' })
    expect(isAllowed('/api/me', [])).toBe(true)
    expect(isAllowed('api/me', [])).toBe(true)
    expect(isAllowed('https://app.example.com/api', [])).toBe(true)
    expect(isAllowed('//app.example.com/api', [])).toBe(true) // https, as the page
    expect(isAllowed('//evil.test/api', [])).toBe(false)
    expect(isAllowed('http://app.example.com/api', [])).toBe(false)
    expect(isAllowed('/\\evil.test/api', [])).toBe(false) // the parser reads it as //evil.test
    expect(isAllowed('http://relative.invalid/', [])).toBe(false)
  })
})

describe('adapters against https hosts (msw)', () => {
  const seen: { url: string; authorization: string | null }[] = []
  const mock = setupServer(
    http.all('*', ({ request }) => {
      seen.push({ url: request.url, authorization: request.headers.get('authorization') })
      if (new URL(request.url).pathname === '/expired' && request.headers.get('authorization') !== 'Bearer fresh') {
        return HttpResponse.json({ error: 'invalid_token' }, { status: 401 })
      }
      return HttpResponse.json({ ok: true })
    }),
  )
  let manager: TokenManager
  let refreshes = 0

  beforeAll(async () => {
    mock.listen({ onUnhandledRequest: 'error' })
    manager = createTokenManager({
      refresh: async () => {
        refreshes++
        return { accessToken: 'fresh' }
      },
    })
    await manager.setTokens({ accessToken: 'opaque-token' })
  })
  afterAll(() => {
    mock.close()
    manager.dispose()
  })
  afterEach(() => {
    seen.length = 0
  })

  const allowedOrigins = ['https://api.example.com']
  const urls = {
    allowed: ['https://api.example.com/me', 'https://api.example.com:443/me', 'https://API.example.com/me'],
    denied: [
      'https://api.example.com.evil.test/me',
      'http://api.example.com/me',
      'https://api.example.com:8443/me',
      'https://evil.test/me',
      'https://evil.test\\@api.example.com/me',
    ],
  }

  test('axios: the token goes to the allowed origin only', async () => {
    const api = axios.create({ baseURL: 'https://base.example.com' })
    const detach = attachAxios(api, manager, { allowedOrigins })
    for (const url of [...urls.allowed, ...urls.denied, '/relative']) await api.get(url)
    detach()
    const sentWithToken = seen.filter((entry) => entry.authorization !== null).map((entry) => new URL(entry.url).origin)
    expect(seen).toHaveLength(urls.allowed.length + urls.denied.length + 1)
    expect(new Set(sentWithToken)).toEqual(new Set(['https://api.example.com', 'https://base.example.com']))
    expect(sentWithToken).toHaveLength(urls.allowed.length + 1)
  })

  test('fetch: the token goes to the allowed origin only', async () => {
    const authFetch = createAuthFetch(manager, { allowedOrigins })
    for (const url of [...urls.allowed, ...urls.denied]) await authFetch(url)
    const sentWithToken = seen.filter((entry) => entry.authorization !== null).map((entry) => new URL(entry.url).origin)
    expect(seen).toHaveLength(urls.allowed.length + urls.denied.length)
    expect(sentWithToken).toEqual(urls.allowed.map(() => 'https://api.example.com'))
  })

  test('a 401 from an allowed origin refreshes; from a denied one it does not', async () => {
    const authFetch = createAuthFetch(manager, { allowedOrigins })
    const before = refreshes
    expect((await authFetch('https://evil.test/expired')).status).toBe(401)
    expect(refreshes).toBe(before)
    expect((await authFetch('https://api.example.com/expired')).status).toBe(200)
    expect(refreshes).toBe(before + 1)
    expect(seen.map((entry) => entry.authorization)).toEqual([null, 'Bearer opaque-token', 'Bearer fresh'])
  })
})
