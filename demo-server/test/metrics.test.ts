/**
 * `GET /metrics`: the Prometheus text format read back with a real parser
 * (parse-prometheus-text-format), every counter checked against a known
 * sequence of requests; behind its credential; off unless configured; one
 * registry per app.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { StoreUnavailableError, type Store } from '../src/store/types.ts'
import { build, DEMO, type TestContext } from './helpers/build.ts'
import { METRICS_TOKEN } from './helpers/audit.ts'

const scrapeHeaders = { authorization: `Bearer ${METRICS_TOKEN}` }

async function scrape(ctx: TestContext): Promise<ParsedFamily[]> {
  const res = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders })
  expect(res.statusCode).toBe(200)
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
  return parsePrometheusTextFormat(res.body)
}

/** The value of one sample (a counter), found by its labels other than instance_id; 0 would be a missing series. */
function value(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name)
  if (!family) throw new Error(`no metric ${name}`)
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  if (!sample) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`)
  return Number(sample.value ?? sample.count)
}

const tokensOf = (res: { body: string }) => JSON.parse(res.body) as { access_token: string; refresh_token: string }

describe('/metrics', () => {
  it('does not exist unless a metrics credential is set', async () => {
    const ctx = await build()
    expect((await ctx.app.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders })).statusCode).toBe(404)
    expect(ctx.app.monitoring.metrics).toBeNull()
  })

  it('refuses a scrape without the credential or with a wrong one', async () => {
    const ctx = await build({ monitoring: { metricsToken: METRICS_TOKEN } })
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${METRICS_TOKEN}!` }, { authorization: `Basic ${METRICS_TOKEN}` }]) {
      const res = await ctx.app.inject({ method: 'GET', url: '/metrics', headers })
      expect(res.statusCode).toBe(401)
      expect(res.body).not.toContain('silent_refresh_')
      expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthorized' })
    }
  })

  it('counts a known sequence of logins, refreshes, logouts, 401s and 429s exactly', async () => {
    const ctx = await build({
      monitoring: { metricsToken: METRICS_TOKEN, instanceId: 'metrics-test' },
      rateLimits: { loginFailuresPerAccountAndAddress: { max: 1, windowMs: 60_000 }, refreshPerIp: { max: 8, windowMs: 60_000 } },
    })
    // Before anything: every series is there, at 0.
    const before = await scrape(ctx)
    for (const [name, labels] of [
      ['silent_refresh_logins_total', { result: 'ok' }],
      ['silent_refresh_rotations_total', { kind: 'rotated' }],
      ['silent_refresh_reuse_detections_total', {}],
      ['silent_refresh_unauthorized_total', { reason: 'expired' }],
      ['silent_refresh_store_errors_total', { operation: 'request' }],
    ] as const) {
      expect(value(before, name, labels)).toBe(0)
    }

    const a = tokensOf(await ctx.login()) // login ok 1
    const b = tokensOf(await ctx.login()) // login ok 2
    expect((await ctx.login({ username: DEMO.username, password: 'wrong-1' })).statusCode).toBe(401) // failed 1
    expect((await ctx.login({ username: DEMO.username, password: 'wrong-2' })).statusCode).toBe(429) // locked 1, a 429 on /auth/login
    const r1 = tokensOf(await ctx.refresh(a.refresh_token)).refresh_token // rotated 1
    expect((await ctx.refresh(a.refresh_token)).statusCode).toBe(200) // replayed 1 (the lost answer again)
    const r2 = tokensOf(await ctx.refresh(r1)).refresh_token // rotated 2
    ctx.clock.advance(21_000)
    expect((await ctx.refresh(a.refresh_token)).statusCode).toBe(400) // reused: detection, revocation
    expect((await ctx.refresh(r2)).statusCode).toBe(400) // revoked
    expect((await ctx.refresh('x'.repeat(43))).statusCode).toBe(400) // unknown 1
    expect((await ctx.logout(b.refresh_token)).statusCode).toBe(204) // revocation by logout
    expect((await ctx.logout(b.refresh_token)).statusCode).toBe(204) // the family again: already revoked (counted again, see README)
    expect((await ctx.app.inject({ method: 'GET', url: '/api/me' })).statusCode).toBe(401) // missing
    expect((await ctx.me('abc.def.ghi')).statusCode).toBe(401) // invalid
    expect((await ctx.me(b.access_token)).statusCode).toBe(401) // session ended
    // From another address: this one's budget for the account is spent.
    const c = tokensOf(await ctx.app.inject({ method: 'POST', url: '/auth/login', payload: DEMO, remoteAddress: '127.0.0.2' })) // login ok 3
    ctx.clock.advance(36_000)
    expect((await ctx.me(c.access_token)).statusCode).toBe(401) // expired
    expect((await ctx.refresh('y'.repeat(43))).statusCode).toBe(400) // unknown 2
    expect((await ctx.refresh('z'.repeat(43))).statusCode).toBe(400) // unknown 3: the 8th refresh of this address
    expect((await ctx.refresh('w'.repeat(43))).statusCode).toBe(429) // the refresh limit: not a refresh, a 429

    const m = await scrape(ctx)
    expect(value(m, 'silent_refresh_logins_total', { result: 'ok' })).toBe(3)
    expect(value(m, 'silent_refresh_logins_total', { result: 'failed' })).toBe(1)
    expect(value(m, 'silent_refresh_logins_total', { result: 'locked' })).toBe(1)
    expect(value(m, 'silent_refresh_rotations_total', { kind: 'rotated' })).toBe(2)
    expect(value(m, 'silent_refresh_rotations_total', { kind: 'replayed' })).toBe(1)
    expect(value(m, 'silent_refresh_reuse_detections_total')).toBe(1)
    expect(value(m, 'silent_refresh_refresh_rejections_total', { reason: 'reused' })).toBe(1)
    expect(value(m, 'silent_refresh_refresh_rejections_total', { reason: 'revoked' })).toBe(1)
    expect(value(m, 'silent_refresh_refresh_rejections_total', { reason: 'unknown' })).toBe(3)
    expect(value(m, 'silent_refresh_refresh_rejections_total', { reason: 'expired' })).toBe(0)
    expect(value(m, 'silent_refresh_revocations_total', { reason: 'reuse' })).toBe(1)
    expect(value(m, 'silent_refresh_revocations_total', { reason: 'logout' })).toBe(2)
    expect(value(m, 'silent_refresh_unauthorized_total', { reason: 'missing' })).toBe(1)
    expect(value(m, 'silent_refresh_unauthorized_total', { reason: 'invalid' })).toBe(1)
    expect(value(m, 'silent_refresh_unauthorized_total', { reason: 'session_ended' })).toBe(1)
    expect(value(m, 'silent_refresh_unauthorized_total', { reason: 'expired' })).toBe(1)
    expect(value(m, 'silent_refresh_rate_limited_total', { route: '/auth/login' })).toBe(1)
    expect(value(m, 'silent_refresh_rate_limited_total', { route: '/auth/token' })).toBe(1)
    expect(value(m, 'silent_refresh_store_errors_total', { operation: 'request' })).toBe(0)
    expect(value(m, 'silent_refresh_store_errors_total', { operation: 'audit_write' })).toBe(0)

    // The latency histogram: one observation per refresh that reached the store, by outcome.
    // parse-prometheus-text-format flattens a labelled histogram into one unlabelled sample (it
    // handles only label-less ones), so its series are read from prom-client's own JSON, and the
    // text is checked to carry the same counts.
    expect(m.find((f) => f.name === 'silent_refresh_refresh_duration_seconds')!.type).toBe('HISTOGRAM')
    const json = await ctx.app.monitoring.metrics!.registry.getMetricsAsJSON()
    const histogram = json.find((f) => f.name === 'silent_refresh_refresh_duration_seconds')!
    const count = (outcome: string) => (histogram.values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>).find((v) => v.metricName === 'silent_refresh_refresh_duration_seconds_count' && v.labels.outcome === outcome)!.value
    const inf = (outcome: string) => histogram.values.find((v) => v.labels.le === '+Inf' && v.labels.outcome === outcome)!.value
    expect([count('rotated'), count('rejected'), inf('rotated'), inf('rejected')]).toEqual([3, 5, 3, 5])
    const text = (await ctx.app.inject({ method: 'GET', url: '/metrics', headers: scrapeHeaders })).body
    expect(text).toContain('silent_refresh_refresh_duration_seconds_count{instance_id="metrics-test",outcome="rotated"} 3\n')
    expect(text).toContain('silent_refresh_refresh_duration_seconds_count{instance_id="metrics-test",outcome="rejected"} 5\n')

    // Every sample names this instance.
    for (const family of m) {
      expect(family.name.startsWith('silent_refresh_')).toBe(true)
      if (family.type === 'HISTOGRAM') continue
      for (const sample of family.metrics) expect(sample.labels?.instance_id, family.name).toBe('metrics-test')
    }
  })

  it('a store failure (503) counts as a store error', async () => {
    const inner = createMemoryStore()
    const store: Store = { ...inner, rotate: () => Promise.reject(new StoreUnavailableError('down')) }
    const ctx = await build({ store, monitoring: { metricsToken: METRICS_TOKEN } })
    const { refresh_token } = tokensOf(await ctx.login())
    expect((await ctx.refresh(refresh_token)).statusCode).toBe(503)
    expect(value(await scrape(ctx), 'silent_refresh_store_errors_total', { operation: 'request' })).toBe(1)
  })

  it('two apps in one process count apart (a registry each, not the global one)', async () => {
    const one = await build({ monitoring: { metricsToken: METRICS_TOKEN, instanceId: 'one' } })
    const two = await build({ monitoring: { metricsToken: METRICS_TOKEN, instanceId: 'two' } })
    await one.login()
    await one.login()
    await two.login()
    expect(value(await scrape(one), 'silent_refresh_logins_total', { result: 'ok' })).toBe(2)
    expect(value(await scrape(two), 'silent_refresh_logins_total', { result: 'ok' })).toBe(1)
    const { register } = await import('prom-client')
    expect(await register.getMetricsAsJSON()).toEqual([])
  })
})
