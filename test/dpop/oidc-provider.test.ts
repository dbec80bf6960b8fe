// Interop with an OAuth server nobody here wrote: oidc-provider (npm) with its
// DPoP feature on, nonces required, and rotating refresh tokens, driven by
// refreshTokenGrant + the fetch adapter against its token and userinfo endpoints.
// The first refresh token is minted through the provider's own models (Grant,
// RefreshToken bound to the key's thumbprint), standing in for a code flow.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTokenManager, refreshTokenGrant, SessionExpiredError, type TokenSet } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { dpop, type DPoP } from '../../src/dpop/index.js'

let issuer: string
let provider: Provider
let server: ReturnType<typeof createServer>
const answers: { path: string; status: number; challenge: boolean }[] = []

beforeAll(async () => {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {}
  server = createServer((req, res) => {
    res.on('finish', () => answers.push({ path: req.url!.split('?')[0]!, status: res.statusCode, challenge: /use_dpop_nonce/.test(String(res.getHeader('www-authenticate') ?? '')) || (res.statusCode === 400 && !!res.getHeader('dpop-nonce')) }))
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'spa',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['https://app.example/cb'],
      },
    ],
    features: { dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } },
    rotateRefreshToken: true,
    ttl: { AccessToken: 600, RefreshToken: 86_400, Grant: 86_400, IdToken: 600, Session: 86_400 },
    scopes: ['openid', 'offline_access'],
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  })
  handler = provider.callback()
})
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
)

/** A refresh token for alice, bound to `key`, as a code flow with DPoP would have issued it. */
async function mintRefreshToken(key: DPoP): Promise<string> {
  const client = (await provider.Client.find('spa'))!
  const grant = new provider.Grant({ accountId: 'alice', clientId: 'spa' })
  grant.addOIDCScope('openid offline_access')
  const grantId = await grant.save()
  const token = new provider.RefreshToken({ accountId: 'alice', client, grantId, scope: 'openid offline_access', gty: 'authorization_code', jkt: await key.thumbprint() })
  return token.save()
}

async function signedIn(key: DPoP = dpop()) {
  const issued: TokenSet[] = []
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${issuer}/token`, clientId: 'spa', fetch: key.fetch }), sender: key, retry: { attempts: 0 } })
  manager.on('tokens', (tokens) => void issued.push(tokens))
  // Any access token: the first refresh replaces it.
  await manager.setTokens({ accessToken: 'placeholder', refreshToken: await mintRefreshToken(key), expiresIn: 3600 })
  await manager.refresh()
  return { key, manager, issued, authFetch: createAuthFetch(manager, { allowedOrigins: [issuer] }) }
}

describe('oidc-provider with DPoP, nonces required, rotating refresh tokens', () => {
  test('refresh and userinfo through the fetch adapter; every nonce challenge answered once', async () => {
    answers.length = 0
    const { manager, issued, authFetch } = await signedIn()
    const first = issued.at(-1)!
    const me = await authFetch(`${issuer}/me`)
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ sub: 'alice' })
    // The token endpoint asked for a nonce once (400 use_dpop_nonce), answered once; userinfo, on the same
    // origin, got the nonce remembered from the token endpoint's answer: no challenge.
    expect(answers.filter((a) => a.challenge).map((a) => a.path)).toEqual(['/token'])
    expect(answers.filter((a) => a.path === '/me').map((a) => a.status)).toEqual([200])
    // Rotation: a new refresh token each time.
    await manager.refresh()
    expect(issued.at(-1)!.refreshToken).not.toBe(first.refreshToken)
    expect((await authFetch(`${issuer}/me`)).status).toBe(200)
    manager.dispose()
  })

  test('an access token the server no longer accepts: one refresh, the request retried with a fresh proof', async () => {
    const { manager, issued, authFetch } = await signedIn()
    const token = await provider.AccessToken.find(issued.at(-1)!.accessToken)
    await token!.destroy()
    const refreshes = issued.length
    const results = await Promise.all([1, 2, 3].map(() => authFetch(`${issuer}/me`)))
    expect(results.map((r) => r.status)).toEqual([200, 200, 200])
    expect(issued.length - refreshes).toBe(1)
    manager.dispose()
  })

  test('a stolen refresh token is refused with another key, and the owner goes on', async () => {
    const { manager, issued } = await signedIn()
    const thief = dpop()
    const stolen = issued.at(-1)!.refreshToken!
    const answer = await thief.fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&client_id=spa&refresh_token=${stolen}`,
    })
    expect(answer.status).toBe(400)
    expect(await answer.json()).toMatchObject({ error: 'invalid_grant' })
    await manager.refresh()
    manager.dispose()
  })

  test('a client clock an hour behind: the server answers with a nonce, and the nonce carries the proofs', async () => {
    const { manager, authFetch } = await signedIn(dpop({ now: () => Date.now() - 3_600_000 }))
    expect((await authFetch(`${issuer}/me`)).status).toBe(200)
    await manager.refresh()
    expect((await authFetch(`${issuer}/me`)).status).toBe(200)
    manager.dispose()
  })

  test('a rotated refresh token presented again is refused: the session ends with SessionExpiredError', async () => {
    const { key, manager, issued } = await signedIn()
    const used = issued.at(-1)!.refreshToken!
    await manager.refresh()
    const replay = createTokenManager({ refresh: refreshTokenGrant({ url: `${issuer}/token`, clientId: 'spa', fetch: key.fetch }), retry: { attempts: 0 } })
    await replay.setTokens({ accessToken: 'x', refreshToken: used, expiresIn: 3600 })
    await expect(replay.refresh()).rejects.toBeInstanceOf(SessionExpiredError)
    replay.dispose()
    manager.dispose()
  })
})
