import { describe, expect, it } from 'vitest'
import type { LightMyRequestResponse } from 'fastify'
import { DEMO, build, parseSetCookie, setCookies, type TestContext } from './helpers/build.ts'

let ctx: TestContext | undefined

function sink(): { stream: { write(line: string): void }; text: () => string; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = []
  return {
    stream: { write: (line: string) => void lines.push(line) },
    text: () => lines.join(''),
    lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}

const WRONG_PASSWORD = 'hunter2-wrong-password'

describe('no password, token or Authorization value in logs or error bodies', () => {
  it.each(['body', 'cookie'] as const)('%s transport, at trace level', async (transport) => {
    const logs = sink()
    ctx = await build({ refreshTokenTransport: transport, logger: { level: 'trace', stream: logs.stream } })
    const headers = { 'x-requested-with': 'test', origin: 'http://localhost:3000' }
    const secrets: string[] = [DEMO.password, WRONG_PASSWORD]
    const errorResponses: LightMyRequestResponse[] = []
    const refreshOf = (res: LightMyRequestResponse): string =>
      transport === 'cookie' ? parseSetCookie(setCookies(res)[0]!).value : res.json().refresh_token
    const refresh = (token: string) =>
      transport === 'cookie'
        ? ctx!.app.inject({ method: 'POST', url: '/auth/token', headers, cookies: { '__Host-refresh_token': token }, payload: { grant_type: 'refresh_token' } })
        : ctx!.app.inject({ method: 'POST', url: '/auth/token', headers, payload: { grant_type: 'refresh_token', refresh_token: token } })

    const login = await ctx.login(DEMO, headers)
    expect(login.statusCode).toBe(200)
    const access1 = login.json().access_token as string
    const refresh1 = refreshOf(login)
    secrets.push(access1, refresh1)

    errorResponses.push(await ctx.login({ username: DEMO.username, password: WRONG_PASSWORD }, headers))
    errorResponses.push(await ctx.login({ username: 'nobody', password: WRONG_PASSWORD }, headers))
    errorResponses.push(
      await ctx.app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: `{"username":"demo","password":"${WRONG_PASSWORD}`,
      }),
    )
    errorResponses.push(
      await ctx.app.inject({ method: 'POST', url: '/auth/login', headers, payload: { username: DEMO.username, password: WRONG_PASSWORD, x: 1 } }),
    )

    expect((await ctx.me(access1)).statusCode).toBe(200)
    const rotated = await refresh(refresh1)
    expect(rotated.statusCode).toBe(200)
    const access2 = rotated.json().access_token as string
    const refresh2 = refreshOf(rotated)
    secrets.push(access2, refresh2)

    errorResponses.push(await ctx.me(access1 + 'x'))
    errorResponses.push(await ctx.me(refresh2))
    ctx.clock.advance(20_000) // past the retry window
    errorResponses.push(await refresh(refresh1)) // reuse: family revoked
    errorResponses.push(await ctx.me(access2))
    errorResponses.push(await ctx.app.inject({ method: 'POST', url: '/auth/logout', headers, payload: { refresh_token: refresh2 } }))

    for (const res of errorResponses) {
      for (const secret of secrets) expect(res.body).not.toContain(secret)
      expect(res.body).not.toContain('Bearer ')
    }

    const text = logs.text()
    expect(text.length).toBeGreaterThan(1000)
    for (const secret of secrets) expect(text).not.toContain(secret)
    // Pieces of the tokens would do harm too: no JWT header, no refresh-token half.
    expect(text).not.toContain(access1.split('.')[0])
    expect(text).not.toContain(refresh1.slice(0, 20))
    expect(text).not.toMatch(/Bearer\s+ey/)
    // Redaction really ran on the logged headers (so this test would notice if it stopped).
    const redacted = logs.lines().filter((l) => JSON.stringify(l).includes('"authorization":"[redacted]"'))
    expect(redacted.length).toBeGreaterThan(0)
    if (transport === 'cookie') {
      expect(logs.lines().some((l) => JSON.stringify(l).includes('"cookie":"[redacted]"'))).toBe(true)
    }
    // The interesting events are there.
    expect(text).toContain('refresh token reuse detected: token family revoked')
  })
})

describe('credentials outside the usual places never reach the log', () => {
  it('tokens in the query string, and every credential-bearing header, are redacted; the rest is logged', async () => {
    const logs = sink()
    ctx = await build({ logger: { level: 'info', stream: logs.stream } })
    const login = (await ctx.login()).json<{ access_token: string; refresh_token: string }>()
    const access = login.access_token
    const refresh = login.refresh_token
    const secrets = {
      proxy: 'Basic cHJveHktdXNlcjpwcm94eS1zZWNyZXQ=',
      cookie: 'session=cookie-secret-value; other=second-cookie-secret',
      setCookie: 'planted=set-cookie-secret',
      dpop: 'eyJ0eXAiOiJkcG9wK2p3dCJ9.dpop-proof-secret.sig',
      apiKey: 'api-key-secret-0123456789',
      custom: 'x-auth-token-secret',
      referer: 'referer-code-secret',
    }
    const res = await ctx.app.inject({
      method: 'GET',
      url: `/api/me?access_token=${access}&refresh_token=${refresh}&code=auth-code-secret&delay_ms=0`,
      headers: {
        authorization: `Bearer ${access}`,
        'proxy-authorization': secrets.proxy,
        cookie: secrets.cookie,
        'set-cookie': secrets.setCookie,
        dpop: secrets.dpop,
        'x-api-key': secrets.apiKey,
        'x-auth-token': secrets.custom,
        referer: `http://localhost:3000/callback?code=${secrets.referer}#frag`,
        'user-agent': 'logging-test/1.0',
      },
    })
    expect(res.statusCode).toBe(200)
    await ctx.app.inject({ method: 'POST', url: `/auth/token?refresh_token=${refresh}`, payload: { grant_type: 'refresh_token', refresh_token: refresh } })

    const text = logs.text()
    for (const secret of [access, refresh, 'auth-code-secret', ...Object.values(secrets)]) expect(text).not.toContain(secret)
    for (const fragment of ['cHJveHktdXNlcjpwcm94eS1zZWNyZXQ', 'cookie-secret-value', 'dpop-proof-secret', refresh.slice(0, 16), access.split('.')[1]!.slice(0, 16)]) {
      expect(text).not.toContain(fragment)
    }
    // What was redacted is still visible as such, and what is harmless is logged as sent.
    const incoming = logs.lines().find((l) => l.msg === 'incoming request' && String((l.req as { url: string }).url).startsWith('/api/me'))!
    const req = incoming.req as { url: string; headers: Record<string, string> }
    expect(req.url).toBe('/api/me?access_token=[redacted]&refresh_token=[redacted]&code=[redacted]&delay_ms=0')
    expect(req.headers).toMatchObject({
      authorization: '[redacted]',
      'proxy-authorization': '[redacted]',
      cookie: '[redacted]',
      'set-cookie': '[redacted]',
      dpop: '[redacted]',
      'x-api-key': '[redacted]',
      'x-auth-token': '[redacted]',
      referer: 'http://localhost:3000/callback',
      'user-agent': 'logging-test/1.0',
    })
  })
})

describe('the admin and metrics credentials never reach the log', () => {
  it('right, wrong and malformed credentials on /admin and /metrics, at trace level', async () => {
    const logs = sink()
    const admin = 'admin-credential-in-a-logging-test-0123456789'
    const metrics = 'metrics-credential-in-a-logging-test-0123456789'
    ctx = await build({ logger: { level: 'trace', stream: logs.stream }, monitoring: { adminToken: admin, metricsToken: metrics } })
    const userId = (await ctx.store.findUserByUsername(DEMO.username))!.id
    for (const authorization of [`Bearer ${admin}`, `Bearer ${admin}x`, `Basic ${admin}`, `Bearer ${metrics}`]) {
      await ctx.app.inject({ method: 'GET', url: `/admin/sessions/${userId}/events?limit=1000`, headers: { authorization } })
      await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { authorization } })
    }
    expect(logs.text()).toContain('admin route: missing or wrong credential')
    for (const secret of [admin, metrics, admin.slice(0, 20), metrics.slice(0, 20)]) expect(logs.text()).not.toContain(secret)
  })
})
