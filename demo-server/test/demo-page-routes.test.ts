// The demo page's server side: the SDK's ESM files and page assets (routes/sdk.ts),
// and the demo levers (routes/demo.ts).
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import axios from 'axios'
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
  it('serves the ESM entries as built: they import nothing by a bare name (no import map needed), and their chunks', async () => {
    ctx = await build()
    for (const entry of ['index', 'fetch', 'cross-tab']) {
      const res = await ctx.app.inject({ method: 'GET', url: `/sdk/${entry}.js` })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8')
      expect(res.body).not.toMatch(/^\s*(import|export)\b[^;'"]*from\s*['"](?![./])/m) // a bare specifier
    }
    const chunk = /from ['"]\.\/internal\/([\w-]+\.js)['"]/.exec((await ctx.app.inject({ method: 'GET', url: '/sdk/fetch.js' })).body)?.[1]
    expect((await ctx.app.inject({ method: 'GET', url: `/sdk/internal/${chunk}` })).statusCode).toBe(200)
  })
})

describe('demo levers', () => {
  const signIn = async (c: TestContext = ctx) => {
    const body = (await c.login()).json<{ access_token: string; refresh_token: string }>()
    return { access: body.access_token, refresh: body.refresh_token }
  }
  const arm = (access: string, mode?: 'transient' | 'terminal') =>
    ctx.app.inject({ method: 'POST', url: '/demo/fail-next-refresh', headers: bearer(access), payload: mode ? { mode } : {} })

  it('are off unless enabled: the routes do not exist, and nothing intercepts a refresh', async () => {
    ctx = await build()
    const { access, refresh } = await signIn()
    for (const [method, url] of [['POST', '/demo/expire'], ['POST', '/demo/fail-next-refresh'], ['GET', '/demo/stats']] as const) {
      const res = await ctx.app.inject({ method, url, headers: bearer(access), payload: method === 'POST' ? {} : undefined })
      expect(res.statusCode, url).toBe(404)
      expect(res.json().error).toBe('not_found')
    }
    expect((await ctx.refresh(refresh)).statusCode).toBe(200)
  })

  it("POST /demo/expire: the session's access token answers 401 from then on; a refresh gives one that works", async () => {
    ctx = await build({ demoLevers: true })
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
    ctx = await build({ demoLevers: true })
    const { access, refresh } = await signIn()
    expect((await arm(access)).statusCode).toBe(204)
    const failed = await ctx.refresh(refresh)
    expect(failed.statusCode).toBe(503)
    expect(failed.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(failed.headers['retry-after']).toBe('1')
    const ok = await ctx.refresh(refresh)
    expect(ok.statusCode).toBe(200)
    const { access_token: access2, refresh_token: refresh2 } = ok.json<{ access_token: string; refresh_token: string }>()
    expect((await arm(access2, 'terminal')).statusCode).toBe(204)
    const terminal = await ctx.refresh(refresh2)
    expect(terminal.statusCode).toBe(400)
    expect(terminal.json()).toMatchObject({ error: 'invalid_grant' })
    expect((await ctx.refresh(refresh2)).statusCode).toBe(200)
  })

  it("a lever armed by one session never fails another session's refresh", async () => {
    ctx = await build({ demoLevers: true })
    const alice = await signIn()
    const bob = await signIn()
    expect((await arm(alice.access, 'terminal')).statusCode).toBe(204)
    // Bob's refresh goes through untouched, and Alice's lever is still armed for her.
    const bobs = await ctx.refresh(bob.refresh)
    expect(bobs.statusCode).toBe(200)
    expect((await ctx.refresh(alice.refresh)).statusCode).toBe(400)
    // Bob expiring his tokens leaves Alice's working.
    const bobAccess = bobs.json<{ access_token: string }>().access_token
    expect((await ctx.app.inject({ method: 'POST', url: '/demo/expire', headers: bearer(bobAccess) })).statusCode).toBe(204)
    expect((await ctx.me(alice.access)).statusCode).toBe(200)
    expect((await ctx.me(bobAccess)).statusCode).toBe(401)
  })

  it('matches the refresh by route, so an encoded path (/auth/%74oken) cannot slip past an armed lever', async () => {
    ctx = await build({ demoLevers: true })
    const { access, refresh } = await signIn()
    await arm(access, 'transient')
    for (const url of ['/auth/%74oken', '/auth/t%6Fken']) {
      const res = await ctx.app.inject({ method: 'POST', url, payload: { grant_type: 'refresh_token', refresh_token: refresh } })
      expect(res.statusCode, url).toBe(503)
      await arm(access, 'transient')
    }
  })

  it("GET /demo/stats needs a token and counts the caller's session only", async () => {
    ctx = await build({ demoLevers: true })
    expect((await ctx.app.inject({ method: 'GET', url: '/demo/stats' })).statusCode).toBe(401)
    const alice = await signIn()
    const bob = await signIn()
    await arm(alice.access)
    expect((await ctx.refresh(alice.refresh)).statusCode).toBe(503)
    const rotated = (await ctx.refresh(alice.refresh)).json<{ access_token: string }>()
    expect((await ctx.refresh(bob.refresh)).statusCode).toBe(200)
    expect((await ctx.refresh('x'.repeat(43))).statusCode).toBe(400) // no session: counted nowhere
    const stats = (access: string) => ctx.app.inject({ method: 'GET', url: '/demo/stats', headers: bearer(access) })
    expect((await stats(rotated.access_token)).json()).toEqual({ refreshes: 1, refreshFailures: 1 })
    expect((await stats(bob.access)).json()).toEqual({ refreshes: 1, refreshFailures: 0 })
  })

  it('the levers need a valid access token and a known mode', async () => {
    ctx = await build({ demoLevers: true })
    expect((await ctx.app.inject({ method: 'POST', url: '/demo/expire' })).statusCode).toBe(401)
    expect((await ctx.app.inject({ method: 'POST', url: '/demo/fail-next-refresh' })).statusCode).toBe(401)
    const { access } = await signIn()
    const bad = await arm(access, 'sometimes' as 'terminal')
    expect(bad.statusCode).toBe(400)
  })

  it('an empty body is accepted whatever the client sends: Node axios (form type), fetch with a JSON type, no type at all', async () => {
    ctx = await build({ demoLevers: true })
    await ctx.app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
    const { access } = await signIn()
    const headers = bearer(access)
    // axios.post(url) with no data sends Content-Type: application/x-www-form-urlencoded and an empty body.
    expect((await axios.post(`${base}/demo/expire`, undefined, { headers })).status).toBe(204)
    const { access: fresh } = await signIn()
    const freshHeaders = bearer(fresh)
    expect((await axios.post(`${base}/demo/fail-next-refresh`, undefined, { headers: freshHeaders })).status).toBe(204)
    expect((await axios.post(`${base}/demo/fail-next-refresh`, 'mode=terminal', { headers: freshHeaders })).status).toBe(204)
    for (const type of ['application/json', 'application/x-www-form-urlencoded']) {
      const res = await fetch(`${base}/demo/fail-next-refresh`, { method: 'POST', headers: { ...freshHeaders, 'content-type': type } })
      expect(res.status, type).toBe(204)
    }
    const none = await fetch(`${base}/demo/fail-next-refresh`, { method: 'POST', headers: freshHeaders })
    expect(none.status).toBe(204)
    // A body that is there must still be valid.
    const broken = await fetch(`${base}/demo/fail-next-refresh`, { method: 'POST', headers: { ...freshHeaders, 'content-type': 'application/json' }, body: '{"mode":' })
    expect(broken.status).toBe(400)
  })
})
