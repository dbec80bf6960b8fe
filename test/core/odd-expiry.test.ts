// DESIGN 5: odd expiries never cause a refresh storm, and are reported.
import { describe, expect, it, vi } from 'vitest'
import { createTokenManager, type TokenSet } from '../../src/index.js'
import { AT1, AT2, AT3, RT1, controlledRefresh, flush, recordEvents, track } from '../helpers/core-harness.js'
import { mintJwt } from '../helpers/core-jwt.js'
import { useFakeClock } from '../helpers/fake-time.js'

const NOW = Date.UTC(2030, 0, 1, 12)
const HOUR = 3_600_000

useFakeClock({ now: NOW })

/** Signs in with `tokens` on a client clock `skewMs` off, then counts refreshes over `calls` getAccessToken() calls. */
async function refreshesOver(tokens: TokenSet, calls: number, skewMs = 0, answer: TokenSet = { accessToken: AT2 }) {
  const refresh = controlledRefresh()
  const manager = createTokenManager({ refresh: refresh.fn, now: () => Date.now() + skewMs })
  const events = recordEvents(manager)
  await manager.setTokens(tokens)
  const results: (string | null)[] = []
  for (let i = 0; i < calls; i++) {
    const result = track(manager.getAccessToken())
    await flush()
    for (const call of refresh.calls.splice(0)) call.resolve(answer)
    await flush()
    results.push(result.value ?? null)
    vi.advanceTimersByTime(1_000)
  }
  manager.dispose()
  return { refreshes: refresh.fn.mock.calls.length, results, problems: events.payloads('error').filter((e) => e.source === 'expiry') }
}

describe('odd expiries never cause a refresh storm', () => {
  it('regression: expires_in 0 at login — no refresh in front of every request; reported once', async () => {
    const { refreshes, results, problems } = await refreshesOver({ accessToken: AT1, refreshToken: RT1, expiresIn: 0 }, 10)
    expect(refreshes).toBe(0) // was 11 for 10 requests
    expect(results).toEqual(Array(10).fill(AT1))
    expect(problems).toHaveLength(1)
    expect(String(problems[0]?.error)).toMatch(/expired on arrival/)
  })

  it('regression: a JWT with exp but no iat, on a client clock an hour ahead — not refreshed on every call', async () => {
    const jwt = mintJwt({ exp: Math.floor(NOW / 1000) + 15 * 60 }) // a 15-minute token on the server's clock
    const { refreshes, results, problems } = await refreshesOver({ accessToken: jwt, refreshToken: RT1 }, 10, HOUR)
    expect(refreshes).toBe(0)
    expect(results).toEqual(Array(10).fill(jwt))
    expect(String(problems[0]?.error)).toMatch(/clock may be ahead/)
    expect(String(problems[0]?.error)).not.toContain(jwt)
  })

  it('a refresh that answers expires_in 0 again refreshes once, not on every call after', async () => {
    const { refreshes } = await refreshesOver({ accessToken: AT1, refreshToken: RT1, expiresAt: NOW - 1 }, 10, 0, { accessToken: AT2, expiresIn: 0 })
    expect(refreshes).toBe(1)
  })

  it('a refresh that hands back a token expiring no later than the old one: proactive refresh stops for it (one refresh, not one per request)', async () => {
    // Inside the window of a 60 s token; the server answers with the same token and the same absolute expiry.
    const tokens = { accessToken: AT1, refreshToken: RT1, expiresAt: NOW + 20_000, expiresIn: 60 }
    const { refreshes, problems } = await refreshesOver(tokens, 10, 0, { accessToken: AT1, expiresAt: NOW + 20_000 })
    expect(refreshes).toBe(1)
    expect(problems).toHaveLength(1)
  })

  it.each([
    ['expiresIn NaN', { expiresIn: Number.NaN }],
    ['expiresIn -60', { expiresIn: -60 }],
    ['expiresIn 1e12 (absurdly far)', { expiresIn: 1e12 }],
    ['expiresAt Infinity', { expiresAt: Number.POSITIVE_INFINITY }],
    ['a JWT with exp before iat', { accessToken: mintJwt({ iat: 2_000_000_000, exp: 1_000_000_000 }) }],
    ['a JWT with a string exp', { accessToken: mintJwt({ exp: '2000000000' } as never) }],
  ])('%s: no storm, no throw', async (_, odd) => {
    const { refreshes, results } = await refreshesOver({ accessToken: AT1, refreshToken: RT1, ...odd }, 5)
    expect(refreshes).toBe(0)
    expect(results.every((token) => typeof token === 'string')).toBe(true)
  })

  it('a stored token (reload) that expired while the app was closed is refreshed once, not treated as odd', async () => {
    const refresh = controlledRefresh()
    const stored: TokenSet = { accessToken: AT1, refreshToken: RT1, expiresAt: NOW - HOUR, expiresIn: 900 }
    const manager = createTokenManager({ refresh: refresh.fn, storage: { get: () => stored, set() {}, clear() {} }, now: () => Date.now() })
    const events = recordEvents(manager)
    const token = track(manager.getAccessToken())
    await flush()
    refresh.call(0).resolve({ accessToken: AT3, expiresIn: 900 })
    await flush()
    expect(token.value).toBe(AT3)
    expect(events.payloads('error')).toEqual([])
    manager.dispose()
  })

  it('an expiresAt the app passes at login is its word, even in the past: one refresh on first use', async () => {
    const { refreshes } = await refreshesOver({ accessToken: AT1, refreshToken: RT1, expiresAt: NOW - 1 }, 5, 0, { accessToken: AT2, expiresIn: 900 })
    expect(refreshes).toBe(1)
  })
})
