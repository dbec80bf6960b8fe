import { beforeEach, describe, expect, it } from 'vitest'
import { DEMO, build, parseSetCookie, setCookies, type TestContext } from './helpers/build.ts'

const COOKIE = '__Host-refresh_token'
const ORIGIN = 'http://localhost:3000'
/** What a same-origin fetch from the demo page sends. */
const SAME_ORIGIN = { origin: ORIGIN, 'sec-fetch-site': 'same-origin', 'x-requested-with': 'fetch' }

let ctx: TestContext
let refresh: string

beforeEach(async () => {
  ctx = await build({ refreshTokenTransport: 'cookie' })
  const res = await ctx.login(DEMO, SAME_ORIGIN)
  expect(res.statusCode).toBe(200)
  refresh = parseSetCookie(setCookies(res)[0]!).value
})

function refreshWithCookie(token: string, headers: Record<string, string> = SAME_ORIGIN) {
  return ctx.app.inject({
    method: 'POST',
    url: '/auth/token',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    cookies: { [COOKIE]: token },
    payload: 'grant_type=refresh_token',
  })
}

describe('cookie transport', () => {
  it('refresh reads the cookie and sets the rotated one; the body has no refresh_token', async () => {
    const res = await refreshWithCookie(refresh)
    expect(res.statusCode).toBe(200)
    expect(res.json().refresh_token).toBeUndefined()
    const cookie = parseSetCookie(setCookies(res)[0]!)
    expect(cookie.name).toBe(COOKIE)
    expect(cookie.value).not.toBe(refresh)
    expect(cookie.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Strict', path: '/' })
    expect((await ctx.me(res.json().access_token)).statusCode).toBe(200)
  })

  it('no cookie → 400 invalid_request; a refresh_token in the body is refused', async () => {
    const none = await ctx.app.inject({ method: 'POST', url: '/auth/token', headers: SAME_ORIGIN, payload: { grant_type: 'refresh_token' } })
    expect(none.statusCode).toBe(400)
    expect(none.json()).toEqual({ error: 'invalid_request', error_description: 'The refresh-token cookie is missing.' })
    const inBody = await ctx.refresh(refresh, SAME_ORIGIN)
    expect(inBody.statusCode).toBe(400)
    expect(inBody.json().error).toBe('invalid_request')
  })

  it('reuse of a rotated cookie: invalid_grant, the cookie is cleared, the family is revoked', async () => {
    const next = parseSetCookie(setCookies(await refreshWithCookie(refresh))[0]!).value
    ctx.clock.advance(20_000) // past the retry window
    const reuse = await refreshWithCookie(refresh)
    expect(reuse.statusCode).toBe(400)
    expect(reuse.json().error).toBe('invalid_grant')
    const cleared = parseSetCookie(setCookies(reuse)[0]!)
    expect(cleared.name).toBe(COOKIE)
    expect(cleared.value).toBe('')
    expect(cleared.attributes['max-age']).toBe('0')
    expect((await refreshWithCookie(next)).statusCode).toBe(400)
  })

  it('logout via the cookie revokes the family and clears the cookie', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/auth/logout', headers: SAME_ORIGIN, cookies: { [COOKIE]: refresh } })
    expect(res.statusCode).toBe(204)
    const cleared = parseSetCookie(setCookies(res)[0]!)
    expect(cleared).toMatchObject({ name: COOKIE, value: '' })
    expect(cleared.attributes).toMatchObject({ path: '/', secure: true, httponly: true, samesite: 'Strict', 'max-age': '0' })
    expect((await refreshWithCookie(refresh)).json().error).toBe('invalid_grant')
  })
})

describe('CSRF defences on cookie endpoints → 403 and nothing rotated', () => {
  const attacks: Array<[string, Record<string, string>]> = [
    ['a foreign Origin', { origin: 'https://evil.example', 'x-requested-with': 'fetch' }],
    ['Origin: null (sandboxed iframe, file://)', { origin: 'null', 'x-requested-with': 'fetch' }],
    ['a look-alike Origin', { origin: 'http://localhost:3000.evil.example', 'x-requested-with': 'fetch' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', 'x-requested-with': 'fetch' }],
    ['cross-site even with an allowed Origin', { origin: ORIGIN, 'sec-fetch-site': 'cross-site', 'x-requested-with': 'fetch' }],
    ['no custom header', { origin: ORIGIN, 'sec-fetch-site': 'same-origin' }],
    ['an empty custom header', { origin: ORIGIN, 'x-requested-with': '' }],
  ]

  it.each(attacks)('refresh with %s', async (_name, headers) => {
    const res = await refreshWithCookie(refresh, headers)
    expect(res.statusCode).toBe(403)
    expect(res.json().error).toBe('csrf_rejected')
    expect(setCookies(res)).toEqual([])
    // Not rotated: the same cookie still works from the real page, exactly once.
    expect((await refreshWithCookie(refresh)).statusCode).toBe(200)
  })

  it.each(attacks)('logout with %s does not revoke', async (_name, headers) => {
    const res = await ctx.app.inject({ method: 'POST', url: '/auth/logout', headers, cookies: { [COOKIE]: refresh } })
    expect(res.statusCode).toBe(403)
    expect((await refreshWithCookie(refresh)).statusCode).toBe(200)
  })

  it('login with a foreign Origin is refused too (login CSRF)', async () => {
    const res = await ctx.login(DEMO, { origin: 'https://evil.example', 'x-requested-with': 'fetch' })
    expect(res.statusCode).toBe(403)
    expect(setCookies(res)).toEqual([])
  })

  it('non-browser clients (no Origin, no Sec-Fetch-Site) pass with the custom header', async () => {
    const res = await refreshWithCookie(refresh, { 'x-requested-with': 'curl' })
    expect(res.statusCode).toBe(200)
  })

  it('body transport has no CSRF checks (no ambient credential)', async () => {
    const body = await build()
    const res = await body.login(DEMO, { origin: 'https://elsewhere.example' })
    expect(res.statusCode).toBe(200)
  })
})
