// Origins under React Native's own URL (Libraries/Blob/URL.js, the real files of
// 0.73.11 and 0.88.1, built by the RN preset as Metro builds them): up to 0.79 its
// `origin` throws; from 0.80 it is a regular expression that keeps user info, and
// its constructor takes "HTTPS://host" or " https://host" for a path under the
// base. The SDK must judge origins as the request will actually go (the native
// stack parses URLs as the WHATWG parser does), whichever URL the app has.
// The parser is tested here from its own module; the adapters as the React
// Native build (dist/react-native/, the "react-native" export condition) composes
// them: ./internal/origin-fallback.ts replaced by its .react-native.ts, as
// rollup.config.js does. The default build under these URLs: origin-default-build.test.ts.
import fc from 'fast-check'
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import axios from 'axios'
import { createTokenManager } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { isAllowed, normalizeOrigins, originOf } from '../../src/adapters/internal/origin.js'
import { parseOrigin } from '../../src/adapters/internal/origin-parser.js'
import { reactNativeUrl, type ReactNativeVersion } from '../runtime/react-native/metro-build.js'

// What rollup.config.js's react-native-origin plugin does for dist/react-native/.
vi.mock('../../src/adapters/internal/origin-fallback.js', () => import('../../src/adapters/internal/origin-fallback.react-native.js'))

const WhatwgURL = globalThis.URL
const whatwgOrigin = (url: string, base?: string): string | null => {
  try {
    return new WhatwgURL(url, base).origin
  } catch {
    return null
  }
}

const reactNative = {} as Record<ReactNativeVersion, typeof URL>
beforeAll(async () => {
  for (const version of ['0.73.11', '0.88.1'] as const) reactNative[version] = (await reactNativeUrl(version)).URL
}, 60_000)
afterEach(() => {
  vi.unstubAllGlobals()
})

/** URLs whose origin the fallback must give exactly as the WHATWG parser does. */
const SAME_AS_WHATWG = [
  'https://api.example.com/a?b#c',
  'HTTPS://API.Example.COM:443/x',
  'http://a.test:80/',
  'http://a.test:8080/',
  'http://a.test:0080/',
  'http://a.test:/',
  '  http://a.test/',
  '\thttp://a.test/\n',
  'ht\ntp://a.te\tst/',
  'http://good.test@evil.test/',
  'http://good.test:pw@evil.test/',
  'http://a@b@evil.test/',
  'http://evil.test\\@good.test/',
  'http://evil.test#@good.test/',
  'http://evil.test?@good.test/',
  'https:\\\\evil.test/x',
  'https:evil.test/x',
  'https:///evil.test/x',
  'http://127.0.0.1:3000/',
  'http://10.0.2.2:3000/api',
  'https://api.example.com./',
  'https://my_host.test/',
  'data:text/plain,x',
  'javascript:alert(1)',
  'http://',
  'http://:80/',
  'http://a.test:65536/',
  'http://a.test:8x/',
  'http://a b.test/',
  'http://a<b.test/',
]

describe('parseOrigin (the fallback for a URL that is not WHATWG)', () => {
  test.each(SAME_AS_WHATWG)('%j: the origin the WHATWG parser gives', (url) => {
    expect(parseOrigin(url)).toBe(whatwgOrigin(url))
  })

  test.each([
    ['/me', 'https://app.test/'],
    ['me?x', 'https://app.test/dir/'],
    ['?x', 'https://app.test/'],
    ['', 'https://app.test/'],
    ['//evil.test/x', 'https://app.test/'],
    ['\\\\evil.test/x', 'https://app.test/'],
    ['/\\evil.test/x', 'https://app.test/'],
    ['\\/evil.test/x', 'https://app.test/'],
    ['///evil.test/x', 'https://app.test/'],
    ['/\t/evil.test/x', 'https://app.test/'],
    ['https:evil.test/x', 'https://app.test/'],
    ['https:/evil.test/x', 'https://app.test/'],
    ['https:\\/evil.test/x', 'https://app.test/'],
    ['http:evil.test/x', 'https://app.test/'],
    ['HTTPS://EVIL.TEST/x', 'https://app.test/'],
  ])('%j against %j: the origin the WHATWG parser gives', (url, base) => {
    expect(parseOrigin(url, base)).toBe(whatwgOrigin(url, base))
  })

  test.each([
    ['http://0x7f.1/', 'http://127.0.0.1'],
    ['http://127.1/', 'http://127.0.0.1'],
    ['http://010.0.0.1/', 'http://8.0.0.1'],
    ['http://1.2.3.4./', 'http://1.2.3.4'],
    ['http://[::1]:3000/', 'http://[::1]:3000'],
    ['http://%61pi.test/', 'http://api.test'],
    ['http://bücher.test/', 'http://xn--bcher-kva.test'],
  ])('%j: null (no token) where the WHATWG parser would normalise the host to %j', (url, whatwg) => {
    expect(whatwgOrigin(url)).toBe(whatwg)
    expect(parseOrigin(url)).toBeNull()
  })

  test.each(['wss://socket.test/', 'ftp://files.test/', 'file:///etc/passwd'])('%j: "null", as the schemes no request with a token uses', (url) => {
    expect(parseOrigin(url)).toBe('null')
  })

  test('blob: has an opaque origin here (the WHATWG one is its inner URL\'s): fetch never sends a blob URL over the network', () => {
    expect(whatwgOrigin('blob:https://a.test/uuid')).toBe('https://a.test')
    expect(parseOrigin('blob:https://a.test/uuid')).toBe('null')
  })

  test('never names an origin the WHATWG parser would not (property, with the tricky parts that decide a host)', () => {
    const part = fc.constantFrom(
      'http:', 'https:', 'HTTPS:', 'ftp:', 'data:', 'x:', '//', '/', '\\', '\\\\', '///', ' ', '\t', '\n', '@', ':', ':80', ':443',
      ':8080', ':0', ':99999', '?', '#', '.', '..', 'a', 'A', 'api.test', 'evil.test', 'user', 'pw', '[::1]', '127.0.0.1', '0x7f', '%2e', 'é', '_', '-', '~',
    )
    const bases = ['https://app.test/dir/', 'http://10.0.2.2:8081/']
    let named = 0
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }), fc.constantFrom(undefined, ...bases), (parts, base) => {
        const url = parts.join('')
        // null (unparseable) and "null" (opaque) both mean: no token.
        const fallback = parseOrigin(url, base)
        if (fallback !== null && fallback !== 'null') {
          named++
          expect(fallback).toBe(whatwgOrigin(url, base))
        }
      }),
      { numRuns: 20_000 },
    )
    expect(named).toBeGreaterThan(5_000) // not a parser that is safe by saying null to everything
  })
})

describe.each(['0.73.11', '0.88.1'] as const)("React Native %s's URL as the global URL", (version) => {
  test('is what the issue says it is', () => {
    const url = new reactNative[version]('https://good.test@evil.test/x')
    if (version === '0.73.11') expect(() => url.origin).toThrow('URL.origin is not implemented')
    else expect(url.origin).toBe('https://good.test@evil.test')
  })

  test('originOf gives the WHATWG origins', () => {
    vi.stubGlobal('URL', reactNative[version])
    for (const url of SAME_AS_WHATWG) expect(originOf(url), url).toBe(whatwgOrigin(url))
  })

  test('normalizeOrigins takes valid origins and names the option on bad ones', () => {
    vi.stubGlobal('URL', reactNative[version])
    expect(normalizeOrigins(['HTTPS://API.example.com:443/v1/', 'http://10.0.2.2:8080?x'])).toEqual(['https://api.example.com', 'http://10.0.2.2:8080'])
    for (const entry of ['api.example.com', '//api.example.com', '/v1', '', 'file:///etc/passwd', 'data:text/plain,x', 'https://']) {
      expect(() => normalizeOrigins([entry]), entry).toThrow(/"allowedOrigins"/)
    }
  })

  test.each([
    'HTTPS://EVIL.TEST/x',
    ' https://evil.test/x',
    '\thttps://evil.test/x',
    'https:evil.test/x',
    '//evil.test/x',
    '\\\\evil.test/x',
    'https://api.example.com@evil.test/x',
    'https://evil.test\\@api.example.com/x',
    'https://api.example.com.evil.test/x',
  ])('%j is not taken as relative nor as the allowed origin', (url) => {
    vi.stubGlobal('URL', reactNative[version])
    expect(isAllowed(url, ['https://api.example.com'])).toBe(false)
  })

  test('relative URLs, baseURL and allowedOrigins still get the token', () => {
    vi.stubGlobal('URL', reactNative[version])
    expect(isAllowed('/me', [])).toBe(true)
    expect(isAllowed('https://API.example.com:443/me', ['https://api.example.com'])).toBe(true)
    expect(isAllowed('https://base.test/v1/me', [], 'https://base.test/v1')).toBe(true)
  })

  test('createAuthFetch with allowedOrigins attaches the token (it threw under 0.73)', async () => {
    vi.stubGlobal('URL', reactNative[version])
    const manager = createTokenManager({ refresh: async () => ({ accessToken: 'fresh' }) })
    await manager.setTokens({ accessToken: 'opaque-token' })
    const sent: (string | null)[] = []
    const fetch = async (_input: RequestInfo | URL, init?: RequestInit) => {
      sent.push(new Headers(init?.headers).get('authorization'))
      return new Response('{}')
    }
    const authFetch = createAuthFetch(manager, { allowedOrigins: ['https://api.example.com'], fetch })
    await authFetch('https://api.example.com/me')
    await authFetch('HTTPS://EVIL.TEST/me')
    expect(sent).toEqual(['Bearer opaque-token', null])
    manager.dispose()
  })

  test('attachAxios with a baseURL attaches the token (it silently did not under 0.73)', async () => {
    vi.stubGlobal('URL', reactNative[version])
    const manager = createTokenManager({ refresh: async () => ({ accessToken: 'fresh' }) })
    await manager.setTokens({ accessToken: 'opaque-token' })
    const sent: unknown[] = []
    const api = axios.create({
      baseURL: 'https://api.example.com',
      adapter: async (config) => {
        sent.push(config.headers.get('authorization') ?? null)
        return { data: {}, status: 200, statusText: 'OK', headers: {}, config }
      },
    })
    attachAxios(api, manager)
    await api.get('/me')
    await api.get('HTTPS://EVIL.TEST/me')
    expect(sent).toEqual(['Bearer opaque-token', null])
    manager.dispose()
  })
})

test('a URL installed after first use (react-native-url-polyfill, late) is used from then on', () => {
  vi.stubGlobal('URL', reactNative['0.73.11'])
  expect(originOf('http://0x7f.1/')).toBeNull() // the fallback: no IPv4 normalisation
  vi.stubGlobal('URL', WhatwgURL)
  expect(originOf('http://0x7f.1/')).toBe('http://127.0.0.1')
})
