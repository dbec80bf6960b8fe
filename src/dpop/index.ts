/**
 * "silent-refresh/dpop": DPoP (RFC 9449), proof of possession for the tokens.
 *
 * `dpop()` makes one ES256 key pair per scope (non-extractable, through
 * WebCrypto) and signs a proof for every attempt of every request: the
 * adapters ask for it through the manager's `sender` option, the refresh grant
 * through `fetch: key.fetch`. Server nonces (`DPoP-Nonce`) are remembered per
 * origin from every answer, and a nonce challenge is answered once.
 */
import type { RequestSender, TokenManager } from '../core/types.js'
import { indexedDbKeyStore, memoryKeyStore, type DPoPKeyPair, type DPoPKeyStore } from './key-store.js'
import { base64url, htuOf, publicJwk, sha256, signJws } from './proof.js'

export { indexedDbKeyStore, memoryKeyStore }
export type { DPoPKeyPair, DPoPKeyStore }

export interface DPoPOptions {
  /**
   * Scopes the key pair: every `dpop()` with the same key (in any tab of the
   * origin, with the default IndexedDB store) signs with the same pair. Use
   * the `key` of your `crossTab()`, so the tabs that share the refresh token
   * share the key it is bound to. @default 'silent-refresh'
   */
  key?: string
  /** Where the key pair is kept. @default indexedDbKeyStore() in a browser, memoryKeyStore() elsewhere */
  store?: DPoPKeyStore
  /** WebCrypto (`subtle` and `getRandomValues`). @default globalThis.crypto */
  crypto?: Crypto
  /** The fetch `key.fetch` wraps. @default globalThis.fetch, looked up at call time */
  fetch?: typeof fetch
  /** The clock for `iat`, in ms. @default Date.now */
  now?: () => number
}

/** A DPoP context: give it to `createTokenManager({ sender })`, and its `fetch` to the calls to your authorization server. */
export interface DPoP extends RequestSender {
  readonly scheme: 'DPoP'
  /**
   * fetch with a proof (no `ath`) on every call, for the authorization server:
   * `refreshTokenGrant({ url, fetch: key.fetch })`, and your login or code
   * exchange, so the tokens are bound to this key. A `use_dpop_nonce` answer
   * (400, or 401 with `WWW-Authenticate: DPoP`) is sent again once with the
   * new nonce; a second one rejects (a transient failure, not a sign-out).
   */
  fetch: typeof fetch
  /** A proof for `method url`; with `accessToken`, bound to it (`ath`), for a resource request. */
  proof(method: string, url: string, accessToken?: string): Promise<string>
  /** The JWK SHA-256 thumbprint of the public key (RFC 7638): `cnf.jkt` of bound tokens, `dpop_jkt` of an authorization request. */
  thumbprint(): Promise<string>
  /** Forgets the key pair (a sign-out of the manager does it): the next proof makes a new one. */
  reset(): Promise<void>
}

/** The error `key.fetch` rejects with when the server asks for a new nonce twice in a row. */
export class DPoPNonceError extends Error {
  readonly code = 'DPOP_NONCE_LOOP' as const
  constructor(url: string) {
    super(`dpop: ${url.replace(/[?#][^]*$/, '')} asked for a new DPoP nonce again after the proof carried the one it gave; not sent a third time`)
    this.name = 'DPoPNonceError'
  }
}

/** A loaded key: the pair, and the encoded JWS header that carries its public key. */
interface Key {
  pair: DPoPKeyPair
  header: string
  jwk: string
}

const header = (response: { headers: unknown }, name: string): string | null => {
  const headers = response.headers as { get?(name: string): string | null } & Record<string, string | undefined>
  return (typeof headers?.get === 'function' ? headers.get(name) : headers?.[name]) ?? null
}

const originOf = (url: string) => {
  try {
    return new URL(url, (globalThis as { location?: { href?: string } }).location?.href).origin
  } catch {
    return url
  }
}

const NONCE_CHALLENGE = /\bDPoP\b[^]*\berror\s*=\s*"?use_dpop_nonce/i

/**
 * Creates a DPoP context (RFC 9449): a non-extractable ES256 key pair per
 * scope and a proof for every request.
 *
 * @example
 * const key = dpop()
 * const manager = createTokenManager({
 *   refresh: refreshTokenGrant({ url: 'https://auth.example.com/token', clientId: 'spa', fetch: key.fetch }),
 *   sender: key,
 * })
 */
export function dpop(options: DPoPOptions = {}): DPoP {
  const crypto = options.crypto ?? (globalThis as { crypto?: Crypto }).crypto
  const subtle = crypto?.subtle
  if (!subtle || typeof crypto.getRandomValues !== 'function') {
    throw new TypeError(
      'dpop(): WebCrypto (crypto.subtle) is not available here. Browsers have it in secure contexts only (https, localhost); ' +
        'in Node 18 pass { crypto: require("node:crypto").webcrypto }; in React Native install a WebCrypto implementation ' +
        '(e.g. react-native-quick-crypto) and pass { crypto, store }',
    )
  }
  const name = options.key ?? 'silent-refresh'
  if (typeof name !== 'string' || !name) throw new TypeError('dpop(): "key" must be a non-empty string')
  const store = options.store ?? ((globalThis as { indexedDB?: IDBFactory }).indexedDB ? indexedDbKeyStore() : memoryKeyStore())
  if (!['get', 'set', 'delete'].every((m) => typeof (store as unknown as Record<string, unknown>)?.[m] === 'function')) {
    throw new TypeError('dpop(): "store" must be an object with get, set, delete (see memoryKeyStore())')
  }
  const now = options.now ?? Date.now
  const nonces = new Map<string, string>()
  let loaded: Promise<Key> | undefined
  let forgetting: Promise<void> | undefined
  let lastToken: string | undefined
  let lastAth: Promise<string> | undefined

  async function load(): Promise<Key> {
    await forgetting
    let pair = await store.get(name)
    if (!pair) {
      const made = await subtle!.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
      const id = base64url(crypto!.getRandomValues(new Uint8Array(12)))
      await store.set(name, { privateKey: made.privateKey, publicKey: made.publicKey, id })
      // Another tab may have kept its pair first: every tab signs with the one that was kept.
      pair = (await store.get(name)) ?? { privateKey: made.privateKey, publicKey: made.publicKey, id }
    }
    const jwk = await publicJwk(subtle!, pair.publicKey)
    return { pair, jwk: JSON.stringify(jwk), header: base64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk })) }
  }

  const key = (): Promise<Key> => {
    if (!loaded) {
      const loading = load()
      loaded = loading
      // A failed load (a store that threw) is tried again at the next proof.
      loading.catch(() => {
        if (loaded === loading) loaded = undefined
      })
    }
    return loaded
  }

  async function proof(method: string, url: string, accessToken?: string): Promise<string> {
    const { pair, header } = await key()
    const claims: Record<string, unknown> = {
      jti: base64url(crypto!.getRandomValues(new Uint8Array(16))),
      htm: method.toUpperCase(),
      htu: htuOf(url),
      iat: Math.floor(now() / 1000),
    }
    if (accessToken !== undefined) {
      if (accessToken !== lastToken) {
        lastToken = accessToken
        lastAth = sha256(subtle!, accessToken)
      }
      claims.ath = await lastAth
    }
    const nonce = nonces.get(originOf(url))
    if (nonce) claims.nonce = nonce
    return signJws(subtle!, pair.privateKey, header, claims)
  }

  /** Remembers the answer's `DPoP-Nonce` for its origin; whether it is a nonce challenge a resource server made (RFC 9449 §9). */
  function answered(url: string, response: { status: number; headers: unknown; url?: unknown }): boolean {
    const nonce = header(response, 'dpop-nonce')
    if (!nonce) return false
    nonces.set(originOf(typeof response.url === 'string' && response.url ? response.url : url), nonce)
    return response.status === 401 && NONCE_CHALLENGE.test(header(response, 'www-authenticate') ?? '')
  }

  /** A token endpoint's nonce challenge (RFC 9449 §8): 400 `use_dpop_nonce`, or a 401 as a resource server makes it. */
  async function challenged(url: string, response: Response): Promise<boolean> {
    if (answered(url, response)) return true
    if (response.status !== 400 || !response.headers.get('dpop-nonce')) return false
    const body = (await response
      .clone()
      .json()
      .catch(() => null)) as { error?: unknown } | null
    return body?.error === 'use_dpop_nonce'
  }

  const authFetch = async function dpopFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = typeof input === 'object' && 'url' in input ? input : undefined
    const url = request ? request.url : String(input)
    const method = init?.method ?? request?.method ?? 'GET'
    const attempt = async () => {
      const headers = new Headers(init?.headers ?? request?.headers)
      headers.set('DPoP', await proof(method, url))
      return (options.fetch ?? fetch)(request ? request.clone() : input, { ...init, headers })
    }
    let response = await attempt()
    if (await challenged(url, response)) {
      await response.body?.cancel().catch(() => {})
      response = await attempt()
      if (await challenged(url, response)) throw new DPoPNonceError(url)
    }
    return response
  } as typeof fetch

  async function reset(): Promise<void> {
    const current = loaded
    loaded = undefined
    lastToken = lastAth = undefined
    if (!current) return
    const forget = current.then(
      ({ pair }) => store.delete(name, pair),
      () => {},
    )
    forgetting = forget.then(undefined, () => {})
    await forget
  }

  return {
    scheme: 'DPoP',
    headers: async (method, url, token) => ({ DPoP: await proof(method, url, token) }),
    answered,
    connect(manager: TokenManager) {
      // A new login after a sign-out gets a new key: nothing bound to the last user's key goes on working here.
      manager.on('signedOut', () => void reset().catch(() => {}))
    },
    fetch: authFetch,
    proof,
    thumbprint: async () => {
      const { jwk } = await key()
      return sha256(subtle!, jwk)
    },
    reset,
  }
}
