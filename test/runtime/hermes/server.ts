// The token server of the Hermes scenario, inside the VM behind the host's
// XMLHttpRequest (Hermes has no sockets): the demo server's routes and rules in
// small. POST /auth/login, POST /auth/token (RFC 6749 §6, form or JSON, rotation
// with reuse detection), anything under /api/ protected by a bearer JWT checked
// against the server's clock. Every other origin is a stranger that answers 200 and
// records what it was sent. The clock is the host's virtual one.
import { now, setNetwork, sleep, type NativeRequest, type NativeResponse } from './host.js'

export const API = 'https://api.example.com'

/** base64url of an ASCII string (Hermes has no btoa: written out here, for the server's side only). */
function base64url(text: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  let out = ''
  for (let i = 0; i < text.length; i += 3) {
    const [a, b, c] = [text.charCodeAt(i), text.charCodeAt(i + 1), text.charCodeAt(i + 2)]
    const bits = (a << 16) | ((b || 0) << 8) | (c || 0)
    out += alphabet[(bits >> 18) & 63]! + alphabet[(bits >> 12) & 63]!
    if (i + 1 < text.length) out += alphabet[(bits >> 6) & 63]!
    if (i + 2 < text.length) out += alphabet[bits & 63]!
  }
  return out
}

/** The origin and path a native stack (OkHttp's HttpUrl, WHATWG-like) sends `url` to: absolute http(s) URLs only. */
function target(url: string): { origin: string; path: string } | null {
  const match = /^(https?):[/\\]*(?:[^/\\?#]*@)?([^/\\?#:]+)(?::(\d+))?([^?#]*)/i.exec(url.trim())
  if (!match) return null
  const [, scheme, host, port, path] = match as unknown as [string, string, string, string | undefined, string]
  const fallback = scheme.toLowerCase() === 'https' ? '443' : '80'
  return { origin: `${scheme.toLowerCase()}://${host.toLowerCase()}${port && port !== fallback ? `:${port}` : ''}`, path: path || '/' }
}

function params(request: NativeRequest): Record<string, string> {
  if (!request.body) return {}
  if ((request.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(request.body) as Record<string, string>
  const out: Record<string, string> = {}
  for (const pair of request.body.split('&')) {
    const [key, value = ''] = pair.split('=').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')))
    out[key!] = value
  }
  return out
}

const json = (status: number, body: unknown): NativeResponse => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
})

export interface Sent {
  origin: string
  path: string
  authorization: string | null
  body: string
}

export function createServer(options: { accessTtlSec: number; latencyMs: number }) {
  const stats = { logins: 0, refreshCalls: 0, authorized: 0, unauthorized: 0, reuseDetected: 0 }
  const sent: Sent[] = []
  const accessTokens = new Map<string, { generation: number; exp: number; family: number }>()
  const refreshTokens = new Map<string, { family: number; rotated: boolean }>()
  const revokedFamilies = new Set<number>()
  let generation = 1
  let families = 0
  let serial = 0
  let plan: 'hang' | undefined

  const issue = (family: number) => {
    const iat = Math.floor(now() / 1000)
    const exp = iat + options.accessTtlSec
    const accessToken = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(
      JSON.stringify({ sub: 'alice', iat, exp, jti: String(++serial) }),
    )}.${base64url(`signature-${serial}`)}`
    const refreshToken = `rt-${family}-${serial}`
    accessTokens.set(accessToken, { generation, exp, family })
    refreshTokens.set(refreshToken, { family, rotated: false })
    return { access_token: accessToken, token_type: 'Bearer', expires_in: options.accessTtlSec, refresh_token: refreshToken }
  }

  async function handle(request: NativeRequest): Promise<NativeResponse> {
    const to = target(request.url)
    if (!to) throw new TypeError(`unparseable URL ${request.url}`)
    const authorization = request.headers.authorization ?? null
    sent.push({ origin: to.origin, path: to.path, authorization, body: request.body })
    if (to.origin !== API) return json(200, { stranger: true })
    await sleep(options.latencyMs)

    if (request.method === 'POST' && to.path === '/auth/login') {
      stats.logins++
      return json(200, issue(++families))
    }
    if (request.method === 'POST' && to.path === '/auth/token') {
      stats.refreshCalls++
      if (plan === 'hang') {
        plan = undefined
        return new Promise<NativeResponse>(() => {}) // the client's timeout must end it
      }
      const { grant_type: grant, refresh_token: token } = params(request)
      if (grant !== 'refresh_token') return json(400, { error: 'unsupported_grant_type' })
      const record = token === undefined ? undefined : refreshTokens.get(token)
      if (!record || revokedFamilies.has(record.family)) return json(400, { error: 'invalid_grant' })
      if (record.rotated) {
        stats.reuseDetected++
        revokedFamilies.add(record.family)
        return json(400, { error: 'invalid_grant' })
      }
      record.rotated = true
      return json(200, issue(record.family))
    }
    if (to.path.startsWith('/api/')) {
      const match = /^Bearer (\S+)$/.exec(authorization ?? '')
      const access = match ? accessTokens.get(match[1]!) : undefined
      if (!access || access.generation < generation || revokedFamilies.has(access.family) || now() >= access.exp * 1000) {
        stats.unauthorized++
        return { ...json(401, { error: 'invalid_token' }), headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }
      }
      stats.authorized++
      return json(200, { sub: 'alice', path: to.path })
    }
    return json(404, { error: 'not_found' })
  }

  setNetwork(handle)
  return {
    stats,
    sent,
    /** Every access token issued so far is rejected from now on (the client still thinks them valid). */
    expireAccessTokens() {
      generation++
    },
    /** Ends every session: refresh tokens answer invalid_grant, access tokens 401. */
    revokeAll() {
      for (let family = 1; family <= families; family++) revokedFamilies.add(family)
      generation++
    },
    /** The next refresh never answers. */
    hangNextRefresh() {
      plan = 'hang'
    },
  }
}
