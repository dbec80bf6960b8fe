/**
 * Login limits that hold under concurrent guesses and that a stranger cannot
 * turn into a switch that locks the real user out (see the README's security
 * section). On SQLite and on PostgreSQL; across three PostgreSQL instances in
 * multi-instance.test.ts.
 */
import type { LightMyRequestResponse } from 'fastify'
import { beforeEach, describe, expect, it, onTestFinished } from 'vitest'
import type { AppOptions } from '../src/app.ts'
import { DEVICE_COOKIE } from '../src/auth/device-cookie.ts'
import { DEMO, build, parseSetCookie, setCookies, type TestContext } from './helpers/build.ts'
import { useStores } from './helpers/stores.ts'

const stores = useStores()
const MANY = { max: 1_000_000, windowMs: 60_000 }
const WINDOW = 15 * 60_000

describe.each(stores)('login limits, $kind store', ({ open }) => {
  let ctx: TestContext

  async function app(limits: NonNullable<AppOptions['rateLimits']> = {}): Promise<TestContext> {
    const store = await open()
    onTestFinished(() => store.close())
    // The per-IP request limit is lifted: these tests are about the failure budgets.
    ctx = await build({ store, rateLimits: { loginPerIp: MANY, ...limits } })
    return ctx
  }
  beforeEach(() => {
    ctx = undefined as unknown as TestContext
  })

  const login = (password: string, from: string, cookie?: string): Promise<LightMyRequestResponse> =>
    ctx.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: DEMO.username, password },
      remoteAddress: from,
      ...(cookie ? { cookies: { [DEVICE_COOKIE]: cookie } } : {}),
    })
  const deviceCookieOf = (res: LightMyRequestResponse): string =>
    parseSetCookie(setCookies(res).find((c) => c.startsWith(`${DEVICE_COOKIE}=`))!).value

  it('75 concurrent wrong passwords for one account: exactly 10 are hashed (the limit), 65 get 429 unhashed', async () => {
    await app()
    const results = await Promise.all(Array.from({ length: 75 }, (_, i) => login(`guess-${i}`, '10.0.0.1')))
    const statuses = results.map((r) => r.statusCode)
    expect(statuses.filter((s) => s === 401)).toHaveLength(10)
    expect(statuses.filter((s) => s === 429)).toHaveLength(65)
    expect(ctx.hasher.calls.verify).toBe(10)
    const refused = results.find((r) => r.statusCode === 429)!
    expect(refused.json()).toEqual({ error: 'rate_limited', error_description: 'Too many failed logins for this account from your address; see Retry-After.' })
    expect(Number(refused.headers['retry-after'])).toBe(WINDOW / 1000)
  })

  it('75 concurrent wrong passwords from 75 addresses: the account-wide budget (50) holds too', async () => {
    await app()
    const results = await Promise.all(Array.from({ length: 75 }, (_, i) => login(`guess-${i}`, `10.1.${i >> 8}.${i & 255}`)))
    expect(results.filter((r) => r.statusCode === 401)).toHaveLength(50)
    expect(results.filter((r) => r.statusCode === 429)).toHaveLength(25)
    expect(ctx.hasher.calls.verify).toBe(50)
  })

  it("ten wrong passwords from one address do not lock out the real user's correct password from another", async () => {
    await app()
    for (let i = 0; i < 10; i++) expect((await login(`guess-${i}`, '203.0.113.66')).statusCode).toBe(401)
    expect((await login(DEMO.password, '203.0.113.66')).statusCode).toBe(429)
    // The real user, elsewhere, no device cookie yet: signed in.
    expect((await login(DEMO.password, '198.51.100.7')).statusCode).toBe(200)
  })

  it('a stranger with many addresses spends the budget of unknown devices, but a device the user signed in on before still gets in', async () => {
    await app()
    // The user signed in last week from their laptop: it holds a device cookie.
    const laptop = deviceCookieOf(await login(DEMO.password, '198.51.100.7'))
    for (let i = 0; i < 50; i++) expect((await login(`guess-${i}`, `10.2.0.${i}`)).statusCode).toBe(401)
    // Unknown devices, wherever they are, now wait...
    const unknown = await login(DEMO.password, '192.0.2.1')
    expect(unknown.statusCode).toBe(429)
    expect(unknown.json().error_description).toContain('from unrecognised devices')
    // ...the laptop does not.
    const known = await login(DEMO.password, '192.0.2.1', laptop)
    expect(known.statusCode).toBe(200)
  })

  it('failures with a device cookie count for that device only; a successful login gives its slot back', async () => {
    await app({ loginFailuresPerDevice: { max: 3, windowMs: WINDOW } })
    const laptop = deviceCookieOf(await login(DEMO.password, '198.51.100.7'))
    const phone = deviceCookieOf(await login(DEMO.password, '198.51.100.8'))
    for (let i = 0; i < 2; i++) expect((await login(`typo-${i}`, '198.51.100.7', laptop)).statusCode).toBe(401)
    // A success in between: its slot goes back, so the two typos are all that count.
    expect((await login(DEMO.password, '198.51.100.7', laptop)).statusCode).toBe(200)
    expect((await login('typo-3', '198.51.100.7', laptop)).statusCode).toBe(401)
    expect((await login(DEMO.password, '198.51.100.7', laptop)).statusCode).toBe(429)
    expect((await login(DEMO.password, '198.51.100.8', phone)).statusCode).toBe(200)
  })

  it('a device cookie proves nothing for another user, nor when tampered with, nor after 30 days', async () => {
    await app({ loginFailuresPerAccount: { max: 2, windowMs: WINDOW } })
    await ctx.store.upsertUser({ username: 'mallory', passwordHash: (await ctx.store.findUserByUsername(DEMO.username))!.passwordHash })
    const mallorys = deviceCookieOf(
      await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'mallory', password: DEMO.password }, remoteAddress: '10.9.9.9' }),
    )
    const demos = deviceCookieOf(await login(DEMO.password, '198.51.100.7'))
    for (let i = 0; i < 2; i++) expect((await login(`guess-${i}`, `10.3.0.${i}`)).statusCode).toBe(401)
    expect((await login(DEMO.password, '10.3.0.9', mallorys)).statusCode).toBe(429)
    const tampered = `${demos.slice(0, -2)}${demos.endsWith('AA') ? 'AB' : 'AA'}`
    expect((await login(DEMO.password, '10.3.0.9', tampered)).statusCode).toBe(429)
    expect((await login(DEMO.password, '10.3.0.9', demos)).statusCode).toBe(200)
    ctx.clock.advance(31 * 24 * 3600_000)
    // Older than 30 days: an unknown device again (the account budget's window has ended meanwhile, so spend it again).
    for (let i = 0; i < 2; i++) expect((await login(`guess-${i}`, `10.4.0.${i}`)).statusCode).toBe(401)
    expect((await login(DEMO.password, '10.3.0.9', demos)).statusCode).toBe(429)
  })

  it('successes never use the budget up, and a window that ends restores it', async () => {
    await app({ loginFailuresPerAccountAndAddress: { max: 2, windowMs: WINDOW } })
    for (let i = 0; i < 20; i++) expect((await login(DEMO.password, '198.51.100.7')).statusCode).toBe(200)
    expect((await login('typo-1', '198.51.100.7')).statusCode).toBe(401)
    expect((await login('typo-2', '198.51.100.7')).statusCode).toBe(401)
    const refused = await login(DEMO.password, '198.51.100.7')
    expect(refused.statusCode).toBe(429)
    ctx.clock.advance(WINDOW)
    expect((await login(DEMO.password, '198.51.100.7')).statusCode).toBe(200)
  })

  it('an unknown username is counted like a known one (a 429 tells nothing about which accounts exist)', async () => {
    await app({ loginFailuresPerAccountAndAddress: { max: 2, windowMs: WINDOW } })
    const attempt = (username: string) => ctx.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: 'x' }, remoteAddress: '10.5.0.1' })
    const known = [await attempt(DEMO.username), await attempt(DEMO.username), await attempt(DEMO.username)]
    const unknown = [await attempt('nobody'), await attempt('nobody'), await attempt('nobody')]
    expect(known.map((r) => r.statusCode)).toEqual([401, 401, 429])
    expect(unknown.map((r) => r.statusCode)).toEqual([401, 401, 429])
    expect(known[2]!.body).toBe(unknown[2]!.body)
  })
})
