// The demo page's server side: the SDK's ESM files and page assets (routes/sdk.ts),
// and the demo levers (routes/demo.ts).
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { build, type TestContext } from './helpers/build.ts'
import { SDK_DIST } from '../src/routes/sdk.ts'

let ctx: TestContext

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('GET / and the page assets', () => {
  it('serves the page, which loads its script and stylesheet from /assets/', async () => {
    ctx = await build()
    const page = await ctx.app.inject({ method: 'GET', url: '/' })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('src="/assets/demo.js"')
    const script = await ctx.app.inject({ method: 'GET', url: '/assets/demo.js' })
    expect(script.statusCode).toBe(200)
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(script.body).toContain("from '/sdk/cross-tab.js'")
    const css = await ctx.app.inject({ method: 'GET', url: '/assets/demo.css' })
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8')
  })

  it.each(['/assets/..%2Fpackage.json', '/assets/index.html', '/sdk/..%2F..%2Fpackage.json', '/sdk/internal/..%2Findex.js', '/sdk/index.cjs', '/sdk/nope.js'])(
    'answers 404 for %s',
    async (url) => {
      ctx = await build()
      const res = await ctx.app.inject({ method: 'GET', url })
      expect(res.statusCode).toBe(404)
    },
  )
})

describe.skipIf(!existsSync(`${SDK_DIST}index.js`))('GET /sdk/* (needs `npm run build`)', () => {
  it('serves the ESM entries with jwt-decode resolved to /sdk/jwt-decode.js, and jwt-decode itself', async () => {
    ctx = await build()
    for (const entry of ['index', 'fetch', 'cross-tab']) {
      const res = await ctx.app.inject({ method: 'GET', url: `/sdk/${entry}.js` })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8')
      expect(res.body).not.toMatch(/from\s*['"]jwt-decode['"]/)
    }
    expect((await ctx.app.inject({ method: 'GET', url: '/sdk/index.js' })).body).toContain('from "/sdk/jwt-decode.js"')
    const chunk = /from ['"]\.\/internal\/([\w-]+\.js)['"]/.exec((await ctx.app.inject({ method: 'GET', url: '/sdk/fetch.js' })).body)?.[1]
    expect((await ctx.app.inject({ method: 'GET', url: `/sdk/internal/${chunk}` })).statusCode).toBe(200)
    const jwt = await ctx.app.inject({ method: 'GET', url: '/sdk/jwt-decode.js' })
    expect(jwt.body).toContain('export function jwtDecode')
  })
})

describe('demo levers', () => {
  const signIn = async () => {
    const body = (await ctx.login()).json<{ access_token: string; refresh_token: string }>()
    return { access: body.access_token, refresh: body.refresh_token }
  }

  it('POST /demo/expire: the session\'s access token answers 401 from then on; a refresh gives one that works', async () => {
    ctx = await build()
    const { access, refresh } = await signIn()
    expect((await ctx.me(access)).statusCode).toBe(200)
    expect((await ctx.app.inject({ method: 'POST', url: '/demo/expire', headers: bearer(access) })).statusCode).toBe(204)
    const rejected = await ctx.me(access)
    expect(rejected.statusCode).toBe(401)
    expect(rejected.headers['www-authenticate']).toContain('invalid_token')
    const next = (await ctx.refresh(refresh)).json<{ access_token: string }>()
    expect((await ctx.me(next.access_token)).statusCode).toBe(200)
    // Only that session: another login is untouched.
    ctx.clock.advance(1000)
    const other = await signIn()
    expect((await ctx.me(other.access)).statusCode).toBe(200)
  })

  it('POST /demo/fail-next-refresh: one 503 (default) or one invalid_grant, and the refresh token still works after', async () => {
    ctx = await build()
    const { access, refresh } = await signIn()
    expect((await ctx.app.inject({ method: 'POST', url: '/demo/fail-next-refresh', headers: bearer(access), payload: {} })).statusCode).toBe(204)
    const failed = await ctx.refresh(refresh)
    expect(failed.statusCode).toBe(503)
    expect(failed.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(failed.headers['retry-after']).toBe('1')
    const ok = await ctx.refresh(refresh)
    expect(ok.statusCode).toBe(200)
    const { access_token: access2, refresh_token: refresh2 } = ok.json<{ access_token: string; refresh_token: string }>()
    await ctx.app.inject({ method: 'POST', url: '/demo/fail-next-refresh', headers: bearer(access2), payload: { mode: 'terminal' } })
    const terminal = await ctx.refresh(refresh2)
    expect(terminal.statusCode).toBe(400)
    expect(terminal.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await ctx.refresh(refresh2)).statusCode).toBe(200)
    const stats = await ctx.app.inject({ method: 'GET', url: '/demo/stats' })
    expect(stats.json()).toEqual({ refreshes: 2, refreshFailures: 2 })
  })

  it('the levers need a valid access token and a known mode', async () => {
    ctx = await build()
    expect((await ctx.app.inject({ method: 'POST', url: '/demo/expire' })).statusCode).toBe(401)
    expect((await ctx.app.inject({ method: 'POST', url: '/demo/fail-next-refresh' })).statusCode).toBe(401)
    const { access } = await signIn()
    const bad = await ctx.app.inject({ method: 'POST', url: '/demo/fail-next-refresh', headers: bearer(access), payload: { mode: 'sometimes' } })
    expect(bad.statusCode).toBe(400)
  })
})
