// A real node:http server that verifies DPoP proofs (RFC 9449) with jose, as an
// authorization server (POST /login, POST /token) and a resource server
// (anything under /api/). Proofs: typ dpop+jwt, alg ES256, a public jwk only,
// htm and htu, an iat window, jti never seen before, ath for resource requests,
// the current server nonce when nonces are on. Tokens: access tokens are HS256
// JWTs with cnf.jkt (token_type DPoP); refresh tokens are bound to the key and
// rotate (a used one is refused). Two instances sharing `secret` verify each
// other's access tokens: two origins, each with nonces of its own.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, SignJWT, type JWK } from 'jose'

export interface DpopServerOptions {
  /** Shared by instances that accept each other's access tokens. */
  secret?: Uint8Array
  /** Require the server's current nonce in every proof. @default false */
  nonces?: boolean
  /** Access token lifetime, seconds. @default 3600 */
  accessTtlSec?: number
  /** Allowed |now - iat| in seconds. @default 60 */
  iatWindowSec?: number
  /** The server's clock (ms). @default Date.now */
  now?: () => number
  /** Answers other GETs (a test page, the SDK's files); undefined: 404. */
  serve?: (path: string) => { type: string; body: string | Buffer } | undefined
}

export interface ProofSeen {
  method: string
  path: string
  header: Record<string, unknown>
  payload: Record<string, unknown>
  authorization: string | null
  status?: number
}

const b64url = (buffer: Buffer) => buffer.toString('base64url')

export async function startDpopServer(options: DpopServerOptions = {}) {
  const secret = options.secret ?? randomBytes(32)
  const now = options.now ?? Date.now
  const iatWindow = options.iatWindowSec ?? 60
  const ttl = options.accessTtlSec ?? 3600
  const jtis = new Set<string>()
  /** refresh token → the key it is bound to; deleted when used (rotation). */
  const refreshTokens = new Map<string, { jkt: string; family: string }>()
  const families = new Set<string>()
  let nonce = b64url(randomBytes(12))
  /** Access tokens of a generation below this are expired. */
  let minGeneration = 0
  let generation = 0
  const stats = { refreshCalls: 0, logins: 0, nonceChallenges: 0, resourceOk: 0, resourceRefused: 0, refreshRefused: 0 }
  const proofs: ProofSeen[] = []
  const jkts = new Set<string>()
  /** Levers. */
  const levers = { alwaysChallenge: false, refreshLatencyMs: 0 }

  const origin = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  /** Verifies the DPoP proof of a request; the proof's jkt, or the reason it is refused. */
  async function verifyProof(req: IncomingMessage, path: string, accessToken?: string): Promise<{ jkt: string } | { error: string; nonce?: boolean }> {
    const header = req.headers.dpop
    if (typeof header !== 'string' || !header) return { error: 'invalid_dpop_proof: no DPoP header' }
    let verified
    try {
      verified = await jwtVerify(header, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] })
    } catch (error) {
      return { error: `invalid_dpop_proof: ${(error as Error).message}` }
    }
    const { payload, protectedHeader } = verified
    const seen: ProofSeen = { method: req.method!, path, header: protectedHeader as Record<string, unknown>, payload: payload as Record<string, unknown>, authorization: req.headers.authorization ?? null }
    proofs.push(seen)
    const jwk = protectedHeader.jwk as JWK
    if (Object.keys(jwk).sort().join() !== 'crv,kty,x,y') return { error: `invalid_dpop_proof: jwk has ${Object.keys(jwk).sort().join()}` }
    if (payload.htm !== req.method) return { error: 'invalid_dpop_proof: htm' }
    if (payload.htu !== `${origin()}${path}`) return { error: `invalid_dpop_proof: htu ${String(payload.htu)}` }
    if (typeof payload.iat !== 'number' || Math.abs(now() / 1000 - payload.iat) > iatWindow) return { error: 'invalid_dpop_proof: iat' }
    if (typeof payload.jti !== 'string' || !payload.jti || jtis.has(payload.jti)) return { error: 'invalid_dpop_proof: jti replayed' }
    jtis.add(payload.jti)
    if (accessToken === undefined) {
      if ('ath' in payload) return { error: 'invalid_dpop_proof: ath on a token request' }
    } else if (payload.ath !== b64url(createHash('sha256').update(accessToken).digest())) {
      return { error: 'invalid_dpop_proof: ath' }
    }
    if (levers.alwaysChallenge || (options.nonces && payload.nonce !== nonce)) {
      if (levers.alwaysChallenge) nonce = b64url(randomBytes(12))
      stats.nonceChallenges++
      return { error: 'use_dpop_nonce', nonce: true }
    }
    const jkt = await calculateJwkThumbprint(jwk, 'sha256')
    jkts.add(jkt)
    return { jkt }
  }

  async function issue(jkt: string, family: string) {
    const gen = ++generation
    const iat = Math.floor(now() / 1000)
    const accessToken = await new SignJWT({ cnf: { jkt }, gen })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .sign(secret)
    const refreshToken = b64url(randomBytes(24))
    refreshTokens.set(refreshToken, { jkt, family })
    return { access_token: accessToken, token_type: 'DPoP', expires_in: ttl, refresh_token: refreshToken }
  }

  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => resolve(body))
    })

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const answer = { 'content-type': 'application/json', ...(options.nonces || levers.alwaysChallenge ? { 'DPoP-Nonce': nonce } : {}), ...headers }
    res.writeHead(status, answer)
    res.end(JSON.stringify(body))
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url!, 'http://x').pathname
    const body = await read(req)
    if (req.method === 'POST' && (path === '/login' || path === '/token')) {
      const proof = await verifyProof(req, path)
      if ('error' in proof) {
        if (path === '/token') stats.refreshRefused++
        return send(res, 400, { error: proof.nonce ? 'use_dpop_nonce' : 'invalid_dpop_proof', error_description: proof.error })
      }
      if (path === '/login') {
        stats.logins++
        const family = b64url(randomBytes(8))
        families.add(family)
        return send(res, 200, await issue(proof.jkt, family))
      }
      stats.refreshCalls++
      if (levers.refreshLatencyMs) await new Promise((resolve) => setTimeout(resolve, levers.refreshLatencyMs))
      const params = new URLSearchParams(body)
      const presented = params.get('refresh_token') ?? ''
      const bound = refreshTokens.get(presented)
      // Bound to another key (a stolen token with a key of the thief's): refused, the family left alone.
      if (params.get('grant_type') !== 'refresh_token' || !bound || bound.jkt !== proof.jkt || !families.has(bound.family)) {
        stats.refreshRefused++
        return send(res, 400, { error: 'invalid_grant' })
      }
      refreshTokens.delete(presented)
      return send(res, 200, await issue(proof.jkt, bound.family))
    }
    if (path.startsWith('/api/')) {
      const authorization = req.headers.authorization ?? ''
      const match = /^DPoP (\S+)$/.exec(authorization)
      const refuse = (error: string, extra = '') => {
        stats.resourceRefused++
        send(res, 401, { error }, { 'WWW-Authenticate': `DPoP error="${error}"${extra}, algs="ES256"` })
      }
      if (!match) return refuse('invalid_token', ', error_description="DPoP scheme expected"')
      const token = match[1]!
      let claims
      try {
        claims = (await jwtVerify(token, secret, { algorithms: ['HS256'] })).payload as { cnf?: { jkt?: string }; gen: number }
      } catch {
        return refuse('invalid_token')
      }
      const proof = await verifyProof(req, path, token)
      if ('error' in proof) return refuse(proof.nonce ? 'use_dpop_nonce' : 'invalid_dpop_proof')
      if (claims.cnf?.jkt !== proof.jkt) return refuse('invalid_token', ', error_description="key mismatch"')
      if (claims.gen <= minGeneration) return refuse('invalid_token', ', error_description="expired"')
      stats.resourceOk++
      if (path === '/api/graphql') return send(res, 200, { data: { me: { __typename: 'User', id: 'alice' } } })
      return send(res, 200, { ok: true, path, method: req.method, body })
    }
    const file = req.method === 'GET' ? options.serve?.(path) : undefined
    if (file) {
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' })
      return res.end(file.body)
    }
    send(res, 404, { error: 'not_found' })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500)
      res.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))

  return {
    url: origin(),
    secret,
    stats,
    proofs,
    /** Thumbprints of the keys whose proofs were accepted. */
    jkts,
    levers,
    get nonce() {
      return nonce
    },
    /** A new server nonce: proofs with the old one are challenged. */
    rotateNonce() {
      nonce = b64url(randomBytes(12))
    },
    /** Every access token issued so far is refused from now on (as expired). */
    expireAccessTokens() {
      minGeneration = generation
    },
    /** Revokes every refresh token family. */
    revokeAll() {
      families.clear()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type DpopServer = Awaited<ReturnType<typeof startDpopServer>>
