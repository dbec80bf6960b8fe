/**
 * `GET /admin/sessions/:userId/events` and `GET /admin/sessions/:userId/families/:familyId/events`: absent
 * without ADMIN_TOKEN, refused without or with a wrong credential, paginated, and every bad
 * input a 4xx in the RFC shape (on SQLite and PostgreSQL), never a 500.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../src/errors.ts'
import { ADMIN_RATE_LIMIT, MAX_EVENTS_PAGE } from '../src/routes/admin.ts'
import { build, DEMO, type TestContext } from './helpers/build.ts'
import { useStores } from './helpers/stores.ts'
import { ADMIN_TOKEN } from './helpers/audit.ts'

const stores = useStores()
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

interface Page {
  events: Array<{ id: number; at: string; type: string; session_id: string | null; user_id: string | null; address: string | null; user_agent: string | null; instance: string; detail: unknown }>
  next_cursor: string | null
}

async function withEvents(overrides: Parameters<typeof build>[0] = {}): Promise<TestContext & { userId: string; sid: string }> {
  const ctx = await build({ monitoring: { adminToken: ADMIN_TOKEN, instanceId: 'admin-test' }, ...overrides })
  const login = JSON.parse((await ctx.login(DEMO, { 'user-agent': 'curl/8' })).body) as { access_token: string; refresh_token: string }
  let token = login.refresh_token
  for (let i = 0; i < 6; i++) token = (JSON.parse((await ctx.refresh(token)).body) as { refresh_token: string }).refresh_token
  const sid = (JSON.parse(Buffer.from(login.access_token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
  const userId = (await ctx.store.findUserByUsername(DEMO.username))!.id
  return { ...ctx, userId, sid }
}

describe('admin routes: the credential', () => {
  it('do not exist without an admin credential (404, like any unknown path)', async () => {
    const ctx = await build()
    const res = await ctx.app.inject({ method: 'GET', url: '/admin/sessions/abc/events', headers: auth })
    expect(res.statusCode).toBe(404)
    expect(JSON.parse(res.body)).toMatchObject({ error: 'not_found' })
  })

  it('refuse a request without it, with a wrong one, another scheme, or the right one with a suffix: 401, nothing read', async () => {
    const ctx = await withEvents()
    const wrong = [
      undefined,
      '',
      'Bearer',
      `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
      `Bearer ${ADMIN_TOKEN}x`,
      `Bearer ${ADMIN_TOKEN.toUpperCase()}`,
      `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`,
      `Bearer ${ADMIN_TOKEN} ${ADMIN_TOKEN}`,
      ADMIN_TOKEN,
    ]
    for (const authorization of wrong) {
      for (const url of [`/admin/sessions/${ctx.userId}/events`, `/admin/sessions/${ctx.userId}/families/${ctx.sid}/events`, '/admin/sessions/%00/events?limit=x']) {
        const res = await ctx.app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } })
        expect(res.statusCode, `${authorization} ${url}`).toBe(401)
        expect(res.headers['www-authenticate']).toBe('Bearer realm="silent-refresh-admin"')
        expect(JSON.parse(res.body)).toEqual({ error: 'unauthorized', error_description: expect.any(String) })
        expect(res.body).not.toContain('"events"')
      }
    }
  })

  it('counts attempts per address: past the limit a 429, even with a wrong credential', async () => {
    const ctx = await build({ monitoring: { adminToken: ADMIN_TOKEN } })
    const codes: number[] = []
    for (let i = 0; i <= ADMIN_RATE_LIMIT.max; i++) {
      codes.push((await ctx.app.inject({ method: 'GET', url: '/admin/sessions/u/events', headers: { authorization: 'Bearer guess' } })).statusCode)
    }
    expect(codes.slice(0, -1).every((c) => c === 401)).toBe(true)
    expect(codes.at(-1)).toBe(429)
  })

  it('refuses a credential shorter than 32 characters at build time', async () => {
    await expect(build({ monitoring: { adminToken: 'short' } })).rejects.toThrow(/adminToken.*at least 32/)
    await expect(build({ monitoring: { metricsToken: `${'x'.repeat(40)} y` } })).rejects.toThrow(/metricsToken/)
  })
})

describe.each(stores)('admin routes on $kind', ({ open }) => {
  it("a user's events and a family's, newest first, in the documented shape", async () => {
    const store = await open()
    const ctx = await withEvents({ store })
    const res = await ctx.app.inject({ method: 'GET', url: `/admin/sessions/${ctx.userId}/events`, headers: auth })
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    const page = JSON.parse(res.body) as Page
    expect(page.next_cursor).toBeNull()
    expect(page.events.map((e) => e.type)).toEqual(['rotated', 'rotated', 'rotated', 'rotated', 'rotated', 'rotated', 'login'])
    expect(page.events[6]).toEqual({
      id: expect.any(Number),
      at: new Date(ctx.clock.now()).toISOString(),
      type: 'login',
      session_id: ctx.sid,
      user_id: ctx.userId,
      address: '127.0.0.1',
      user_agent: 'curl/8',
      instance: 'admin-test',
      detail: null,
    })
    const family = JSON.parse((await ctx.app.inject({ method: 'GET', url: `/admin/sessions/${ctx.userId}/families/${ctx.sid}/events`, headers: auth })).body) as Page
    expect(family.events).toEqual(page.events)
    // Unknown ids are an empty page, not an error.
    const none = await ctx.app.inject({ method: 'GET', url: `/admin/sessions/${ctx.userId}/families/AAAAAAAAAAAAAAAAAAAAAA/events`, headers: auth })
    expect(JSON.parse(none.body)).toEqual({ events: [], next_cursor: null })
    await ctx.app.close()
    await store.close()
  })

  it('pages with limit and cursor: every event once, in order, then next_cursor null', async () => {
    const store = await open()
    const ctx = await withEvents({ store })
    const seen: number[] = []
    let cursor: string | null = null
    const sizes: number[] = []
    do {
      const url: string = `/admin/sessions/${ctx.userId}/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`
      const page = JSON.parse((await ctx.app.inject({ method: 'GET', url, headers: auth })).body) as Page
      sizes.push(page.events.length)
      seen.push(...page.events.map((e) => e.id))
      cursor = page.next_cursor
    } while (cursor)
    expect(sizes).toEqual([3, 3, 1])
    expect(seen).toEqual([...seen].sort((a, b) => b - a))
    expect(new Set(seen).size).toBe(7)
    // An exact multiple of the page size ends with next_cursor null, not an empty page.
    const exact = JSON.parse((await ctx.app.inject({ method: 'GET', url: `/admin/sessions/${ctx.userId}/events?limit=7`, headers: auth })).body) as Page
    expect([exact.events.length, exact.next_cursor]).toEqual([7, null])
    await ctx.app.close()
    await store.close()
  })

  it('bad input is a 400 (or 414) in the RFC shape, never a 500', async () => {
    const store = await open()
    const ctx = await withEvents({ store })
    const good = encodeURIComponent(Buffer.from('e5').toString('base64url'))
    const bad = [
      `/admin/sessions/${ctx.userId}/events?limit=0`,
      `/admin/sessions/${ctx.userId}/events?limit=${MAX_EVENTS_PAGE + 1}`,
      `/admin/sessions/${ctx.userId}/events?limit=9999`,
      `/admin/sessions/${ctx.userId}/events?limit=-1`,
      `/admin/sessions/${ctx.userId}/events?limit=abc`,
      `/admin/sessions/${ctx.userId}/events?limit=1.5`,
      `/admin/sessions/${ctx.userId}/events?limit=1&limit=2`,
      `/admin/sessions/${ctx.userId}/events?cursor=`,
      `/admin/sessions/${ctx.userId}/events?cursor=not-a-cursor`,
      `/admin/sessions/${ctx.userId}/events?cursor=${Buffer.from('e0').toString('base64url')}`,
      `/admin/sessions/${ctx.userId}/events?cursor=${Buffer.from('e-1').toString('base64url')}`,
      `/admin/sessions/${ctx.userId}/events?cursor=${Buffer.from('e99999999999999999999').toString('base64url')}`,
      `/admin/sessions/${ctx.userId}/events?cursor=${good}=`,
      `/admin/sessions/${ctx.userId}/events?cursor=%FF%FE`,
      `/admin/sessions/${ctx.userId}/events?cursor=${'A'.repeat(65)}`,
      `/admin/sessions/${ctx.userId}/events?other=1`,
      `/admin/sessions/${ctx.userId}/events?__proto__=1`,
      '/admin/sessions/a%20b/events',
      '/admin/sessions/a%00b/events',
      "/admin/sessions/'%20OR%201=1--/events",
      `/admin/sessions/${'a'.repeat(65)}/events`,
      `/admin/sessions/${ctx.userId}/families/${'a'.repeat(101)}/events`,
      `/admin/sessions/${ctx.userId}/families/%E0%A4%A/events`,
      `/admin/sessions/${ctx.userId}/families/..%2F..%2Fetc/events`,
    ]
    for (const url of bad) {
      const res = await ctx.app.inject({ method: 'GET', url, headers: auth })
      expect([400, 414], url).toContain(res.statusCode)
      const body = JSON.parse(res.body) as { error: string; error_description: string }
      expect(ERROR_CODES, url).toContain(body.error)
      expect(body.error, url).toBe('invalid_request')
    }
    // Any path segment, cursor and limit at all: a 2xx or a 4xx in the RFC shape, never a 5xx.
    const segment = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(ctx.userId, ctx.sid, '', '..', '%', '\u0000'))
    let run = 0
    await fc.assert(
      fc.asyncProperty(segment, segment, fc.option(segment), fc.option(segment), async (user, family, cursor, limit) => {
        // A fresh address each run, so the admin attempt limit (60 a minute) never answers instead.
        const remoteAddress = `10.0.${Math.floor(++run / 250)}.${run % 250}`
        const query = new URLSearchParams()
        if (cursor !== null) query.set('cursor', cursor)
        if (limit !== null) query.set('limit', limit)
        const paths = [`/admin/sessions/${encodeURIComponent(user)}/events`, `/admin/sessions/${encodeURIComponent(user)}/families/${encodeURIComponent(family)}/events`]
        for (const path of paths) {
          const res = await ctx.app.inject({ method: 'GET', url: `${path}?${query}`, headers: auth, remoteAddress })
          expect(res.statusCode, path).toBeLessThan(500)
          expect(res.statusCode, path).not.toBe(429)
          if (res.statusCode >= 400) expect(ERROR_CODES).toContain((JSON.parse(res.body) as { error: string }).error)
        }
      }),
      { numRuns: 150 },
    )
    // A well-formed cursor is accepted.
    expect((await ctx.app.inject({ method: 'GET', url: `/admin/sessions/${ctx.userId}/events?cursor=${good}`, headers: auth })).statusCode).toBe(200)
    await ctx.app.close()
    await store.close()
  })
})
