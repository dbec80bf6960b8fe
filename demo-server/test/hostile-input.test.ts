/**
 * Every bad input gets a 4xx with the RFC 6749 §5.2-shaped body
 * `{ error, error_description }`, never a 500 — on SQLite and on PostgreSQL
 * (which, unlike SQLite, refuses a NUL in a text value). A table of known
 * hostile inputs, then fast-check properties over each route's inputs.
 */
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { beforeEach, describe, expect, it, onTestFinished } from 'vitest'
import { ERROR_CODES } from '../src/errors.ts'
import { DEMO, build, type TestContext } from './helpers/build.ts'
import { openRaw, parseResponses } from './helpers/raw-http.ts'
import { useStores } from './helpers/stores.ts'

const stores = useStores()
const MANY = { max: 1_000_000, windowMs: 60_000 }
const LIMITS = { loginPerIp: MANY, loginFailuresPerAccount: MANY, refreshPerIp: MANY }
const JSON_TYPE = { 'content-type': 'application/json' }
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' }

/** A 4xx (or a success), and if an error, exactly the documented shape with a known code. */
function expectClean(res: LightMyRequestResponse, label: string): void {
  expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBeLessThan(500)
  if (res.statusCode < 400) return
  const body = res.json() as Record<string, unknown>
  expect(Object.keys(body).sort(), label).toEqual(['error', 'error_description'])
  expect(ERROR_CODES, label).toContain(body.error)
  expect(typeof body.error_description, label).toBe('string')
}

/** Strings that break naive code: NUL and other controls, lone surrogates, huge, unicode, SQL and prototype keys. */
const HOSTILE_STRINGS = ['\u0000', 'de\u0000mo', '\u0000demo', 'demo\u0000', '\ud800', 'a\udfffb', '\u001b[31m', '\u202edemo', '\ufeff', "' OR 1=1 --", '__proto__', 'constructor', 'x'.repeat(70_000), '𝒟𝑒𝓂ℴ', '']
const hostileString = fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 80 }))
/** Header values a client can put on the wire (visible ASCII and tab), so the request itself is valid HTTP. */
/** Percent-encodes the UTF-8 bytes of any string, lone surrogates included (encodeURIComponent throws on those). */
const pct = (value: string): string => [...Buffer.from(value, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('')
const headerValue = fc.string({ unit: fc.constantFrom(...'\t !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~'.split('')), maxLength: 600 })

describe.each(stores)('hostile input, $kind store', ({ open }) => {
  let ctx: TestContext
  let access: string
  let refresh: string

  beforeEach(async () => {
    const store = await open()
    onTestFinished(() => store.close()) // registered first, so it runs after the app has closed
    ctx = await build({ store, rateLimits: LIMITS })
    const login = await ctx.login()
    expect(login.statusCode).toBe(200)
    ;({ access_token: access, refresh_token: refresh } = login.json())
  })

  const TABLE: Array<[string, (c: TestContext) => InjectOptions]> = [
    ['NUL in the username', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: JSON.stringify({ username: 'de\u0000mo', password: 'x' }) })],
    ['a username that is only a NUL', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: JSON.stringify({ username: '\u0000', password: 'x' }) })],
    ['NUL in the password', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: JSON.stringify({ username: DEMO.username, password: 'pa\u0000ss' }) })],
    ['a lone surrogate in the username', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '{"username":"\\ud800","password":"x"}' })],
    ['an escape sequence in the username', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: JSON.stringify({ username: '\u001b[31mdemo', password: 'x' }) })],
    ['JSON nested 50,000 deep', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '['.repeat(50_000) + ']'.repeat(50_000) })],
    ['an object nested 20,000 deep', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) })],
    ['JSON null, a number, a string, an array', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: 'null' })],
    ['a JSON array body', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '[{"username":"demo","password":"x"}]' })],
    ['a huge number', () => ({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '{"username":1e400,"password":"x"}' })],
    ['a charset JSON does not have', () => ({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json; charset=utf-16' }, payload: '{}' })],
    ['a content type list', () => ({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json, text/plain' }, payload: '{}' })],
    ['multipart', () => ({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x\r\n\r\n--x--' })],
    ['NUL in the refresh token', () => ({ method: 'POST', url: '/auth/token', headers: FORM_TYPE, payload: `grant_type=refresh_token&refresh_token=${encodeURIComponent('\u0000'.repeat(43))}` })],
    ['NUL in grant_type and client_id', () => ({ method: 'POST', url: '/auth/token', headers: FORM_TYPE, payload: `grant_type=refresh%00token&client_id=%00&refresh_token=${refresh}` })],
    ['a repeated form field', () => ({ method: 'POST', url: '/auth/token', headers: FORM_TYPE, payload: `grant_type=refresh_token&refresh_token=${refresh}&refresh_token=x` })],
    ['broken percent-encoding in a form', () => ({ method: 'POST', url: '/auth/token', headers: FORM_TYPE, payload: 'grant_type=%E0%A4%A&refresh_token=%' })],
    ['__proto__ in a form', () => ({ method: 'POST', url: '/auth/token', headers: FORM_TYPE, payload: '__proto__[grant_type]=refresh_token&constructor[prototype][x]=1' })],
    ['__proto__ in JSON', () => ({ method: 'POST', url: '/auth/token', headers: JSON_TYPE, payload: '{"__proto__":{"grant_type":"refresh_token"}}' })],
    ['NUL in a logout token', () => ({ method: 'POST', url: '/auth/logout', headers: JSON_TYPE, payload: JSON.stringify({ refresh_token: '\u0000', client_id: '\u0000' }) })],
    ['a JSON number as the logout body', () => ({ method: 'POST', url: '/auth/logout', headers: JSON_TYPE, payload: '0' })],
    ['a malformed URL', () => ({ method: 'GET', url: '/%' })],
    ['a malformed URL on a real route', () => ({ method: 'POST', url: '/auth/%zz', headers: JSON_TYPE, payload: '{}' })],
    ['a path parameter over the length limit', () => ({ method: 'GET', url: `/sdk/${'a'.repeat(300)}.js` })],
    ['a repeated query parameter', () => ({ method: 'GET', url: '/api/slow?delay_ms=1&delay_ms=2', headers: { authorization: `Bearer ${access}` } })],
    ['a bracketed query parameter', () => ({ method: 'GET', url: '/api/slow?delay_ms[]=1', headers: { authorization: `Bearer ${access}` } })],
    ['broken percent-encoding in a query', () => ({ method: 'GET', url: '/api/slow?delay_ms=%', headers: { authorization: `Bearer ${access}` } })],
    ['NUL in a query', () => ({ method: 'GET', url: '/api/slow?delay_ms=%00', headers: { authorization: `Bearer ${access}` } })],
    ['a JWT of three empty parts', () => ({ method: 'GET', url: '/api/me', headers: { authorization: 'Bearer ..' } })],
    ['a JWT whose parts are not JSON', () => ({ method: 'GET', url: '/api/me', headers: { authorization: 'Bearer e30.AAAA.AAAA' } })],
    ['a non-ASCII bearer token', () => ({ method: 'GET', url: '/api/me', headers: { authorization: 'Bearer \u00e9t\u00e9' } })],
    ['an unknown method', () => ({ method: 'PROPFIND' as 'GET', url: '/auth/token' })],
  ]

  it.each(TABLE)('%s → 4xx with an RFC-shaped body', async (label, request) => {
    expectClean(await ctx.app.inject(request(ctx)), label)
    // And the server still serves the real user afterwards.
    expect((await ctx.me(access)).statusCode).toBe(200)
  })

  it('fuzz: POST /auth/login with arbitrary JSON and arbitrary credentials', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ username: hostileString, password: hostileString }),
          fc.record({ username: fc.jsonValue(), password: fc.jsonValue() }, { requiredKeys: [] }),
          fc.jsonValue(),
        ),
        fc.ipV4(),
        async (body, ip) => {
          const res = await ctx.app.inject({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: JSON.stringify(body) ?? '', remoteAddress: ip })
          expectClean(res, `login ${JSON.stringify(body)?.slice(0, 120)}`)
        },
      ),
      { numRuns: 120 },
    )
  })

  it('fuzz: POST /auth/token and /auth/logout with arbitrary forms and raw bodies', async () => {
    const field = fc.oneof(fc.constantFrom('grant_type', 'refresh_token', 'client_id'), hostileString)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(fc.tuple(field, hostileString), { maxLength: 6 }).map((pairs) => ({ type: FORM_TYPE, payload: new URLSearchParams(pairs).toString() })),
          fc.string({ unit: 'binary', maxLength: 200 }).map((raw) => ({ type: FORM_TYPE, payload: raw })),
          fc.jsonValue().map((value) => ({ type: JSON_TYPE, payload: JSON.stringify(value) ?? '' })),
        ),
        fc.constantFrom('/auth/token', '/auth/logout'),
        async ({ type, payload }, url) => {
          expectClean(await ctx.app.inject({ method: 'POST', url, headers: type, payload }), `${url} ${payload.slice(0, 120)}`)
        },
      ),
      { numRuns: 150 },
    )
    // The real session is untouched by all of that.
    expect((await ctx.refresh(refresh)).statusCode).toBe(200)
  })

  it('fuzz: protected routes with arbitrary Authorization headers and query strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(headerValue, headerValue.map((v) => `Bearer ${v}`), fc.constant(`Bearer ${access}`)),
        fc.oneof(
          fc.constant('?delay_ms=0'),
          fc.string({ maxLength: 40 }).map((q) => `?delay_ms=0&${pct(q)}=${q.replace(/[^\x21-\x7e]/g, '')}`),
          hostileString.map((v) => `?delay_ms=${pct(v)}`),
        ),
        async (authorization, query) => {
          const res = await ctx.app.inject({ method: 'GET', url: `/api/slow${query}`, headers: { authorization } })
          expectClean(res, `${authorization.slice(0, 60)} ${query.slice(0, 60)}`)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('fuzz: arbitrary paths and methods', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'), fc.webPath(), fc.string({ maxLength: 30 }), async (method, path, tail) => {
        const url = `${path || '/'}${pct(tail)}`
        const res = await ctx.app.inject({ method: method as 'GET', url })
        expect(res.statusCode, url).toBeLessThan(500)
        if (res.statusCode >= 400 && method !== 'HEAD') expectClean(res, `${method} ${url}`)
      }),
      { numRuns: 150 },
    )
  })
})

describe('hostile cookies (cookie mode)', () => {
  it.each([
    ['broken percent-encoding', '%E0%A4%A'],
    ['a lone percent sign', '%'],
    ['a NUL', '%00'],
    ['5,000 characters', 'a'.repeat(5000)],
    ['a quoted value', '"quoted"'],
  ])('a refresh-token cookie with %s → 4xx, never a 500', async (_label, value) => {
    const ctx = await build({ refreshTokenTransport: 'cookie' })
    for (const url of ['/auth/token', '/auth/logout']) {
      const res = await ctx.app.inject({
        method: 'POST',
        url,
        headers: { ...FORM_TYPE, 'x-requested-with': 'test', cookie: `__Host-refresh_token=${value}` },
        payload: url === '/auth/token' ? 'grant_type=refresh_token' : '',
      })
      expectClean(res, `${url} ${value.slice(0, 20)}`)
    }
  })
})

describe('over a real port: what never reaches a route', () => {
  async function listening(): Promise<{ ctx: TestContext; port: number }> {
    const ctx = await build()
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    return { ctx, port: (ctx.app.server.address() as AddressInfo).port }
  }
  const rfc = (text: string) => {
    const [res] = parseResponses(text)
    expect(res, text).toBeDefined()
    expect(res!.headers['content-type']).toMatch(/^application\/json/)
    const body = JSON.parse(res!.body) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['error', 'error_description'])
    return { status: res!.status, error: body.error }
  }

  it('a request that is not HTTP → 400 invalid_request, then the connection is closed', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    raw.write('HELLO\r\n\r\n')
    await raw.closed
    expect(rfc(raw.received())).toEqual({ status: 400, error: 'invalid_request' })
  })

  it('headers over the size limit → 431 invalid_request', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    raw.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    await raw.closed
    expect(rfc(raw.received())).toEqual({ status: 431, error: 'invalid_request' })
  })

  it('a URL that does not decode → 400 invalid_request', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    raw.write('GET /auth/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await raw.closed
    expect(rfc(raw.received())).toEqual({ status: 400, error: 'invalid_request' })
  })

  it('a request arriving while the server shuts down → 503 temporarily_unavailable with Connection: close', async () => {
    const ctx = await build()
    // Runs after the app's own preClose hook (registered first): the server is closing but still listening.
    let late: Response | undefined
    ctx.app.addHook('preClose', async () => {
      late = await fetch(`http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/healthz`)
    })
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    await ctx.app.close()
    expect(late?.status, await late?.clone().text()).toBe(503)
    expect(late?.headers.get('connection')).toBe('close')
    expect(late?.headers.get('retry-after')).toBe('1')
    expect(await late?.json()).toEqual({ error: 'temporarily_unavailable', error_description: 'The server is shutting down; retry shortly.' })
  })
})
