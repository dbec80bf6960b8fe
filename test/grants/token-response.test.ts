import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTokenManager, fromTokenResponse, refreshTokenGrant, type OAuthTokenResponse } from '../../src/index.js'
import { AT1, AT2, RT1, RT2 } from '../helpers/core-harness.js'

describe('fromTokenResponse: an OAuth token response (RFC 6749 §5.1) → TokenSet', () => {
  it('maps access_token, refresh_token and expires_in; ignores the other fields', () => {
    expect(fromTokenResponse({ access_token: AT1, token_type: 'Bearer', expires_in: 900, refresh_token: RT1, scope: 'openid' })).toStrictEqual({
      accessToken: AT1,
      refreshToken: RT1,
      expiresIn: 900,
    })
  })

  it('without refresh_token (cookie mode) the set has none, so setTokens() keeps no refresh token', () => {
    expect(fromTokenResponse({ access_token: AT1, expires_in: 30 })).toStrictEqual({ accessToken: AT1, expiresIn: 30 })
    expect(fromTokenResponse({ access_token: AT1, refresh_token: '' })).toStrictEqual({ accessToken: AT1 })
  })

  it('reads expires_in sent as a string; leaves out one that is not a number (unknown expiry)', () => {
    expect(fromTokenResponse({ access_token: AT1, expires_in: '3600' }).expiresIn).toBe(3600)
    expect(fromTokenResponse({ access_token: AT1, expires_in: 0 }).expiresIn).toBe(0)
    for (const expires_in of ['soon', '', ' ', null, {}, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(fromTokenResponse({ access_token: AT1, expires_in } as unknown as OAuthTokenResponse)).toStrictEqual({ accessToken: AT1 })
    }
  })

  it('throws a TypeError that says what to pass, for a missing body or access_token', () => {
    for (const bad of [undefined, null, 'eyJ…', {}, { access_token: '' }, { access_token: 42 }, { data: { access_token: AT1 } }]) {
      expect(() => fromTokenResponse(bad as unknown as OAuthTokenResponse)).toThrow(TypeError)
      expect(() => fromTokenResponse(bad as unknown as OAuthTokenResponse)).toThrow(/"access_token".*response\.data/)
    }
  })

  it('names the OAuth error of an error body, and never a token in its message', () => {
    expect(() => fromTokenResponse({ error: 'invalid_grant', refresh_token: RT2 } as unknown as OAuthTokenResponse)).toThrow(
      'it holds the OAuth error "invalid_grant"',
    )
    // Not an RFC 6749 error code: it might be anything, so it is not repeated.
    const withSecret = { error: `token ${RT2}`, refresh_token: RT2 } as unknown as OAuthTokenResponse
    expect(() => fromTokenResponse(withSecret)).toThrow(TypeError)
    try {
      fromTokenResponse(withSecret)
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(RT2)
    }
  })

  it('its result goes straight into setTokens(): expires_in drives the proactive refresh', async () => {
    let clock = 1_700_000_000_000
    const refreshed: string[] = []
    const manager = createTokenManager({
      now: () => clock,
      refresh: async ({ refreshToken }) => {
        refreshed.push(String(refreshToken))
        return fromTokenResponse({ access_token: AT2, expires_in: 900 })
      },
    })
    await manager.setTokens(fromTokenResponse({ access_token: AT1, expires_in: 60, refresh_token: RT1 }))
    expect(await manager.getAccessToken()).toBe(AT1)
    clock += 60_000
    expect(await manager.getAccessToken()).toBe(AT2)
    expect(refreshed).toEqual([RT1])
    manager.dispose()
  })
})

describe('refreshTokenGrant reads the answer with fromTokenResponse', () => {
  let server: Server
  let url: string
  let answer: unknown
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(answer))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('the same TokenSet, with the old refresh token kept when none comes back', async () => {
    const refresh = refreshTokenGrant({ url })
    const signal = new AbortController().signal
    answer = { access_token: AT2, expires_in: '900', refresh_token: RT2, token_type: 'Bearer' }
    await expect(refresh({ refreshToken: RT1, signal })).resolves.toStrictEqual(fromTokenResponse(answer as OAuthTokenResponse))
    answer = { access_token: AT2, expires_in: 900 }
    await expect(refresh({ refreshToken: RT1, signal })).resolves.toStrictEqual({ accessToken: AT2, expiresIn: 900, refreshToken: RT1 })
    await expect(refresh({ refreshToken: null, signal })).resolves.toStrictEqual({ accessToken: AT2, expiresIn: 900, refreshToken: null })
  })
})
