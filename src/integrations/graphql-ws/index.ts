/**
 * "silent-refresh/graphql-ws": options for graphql-ws's `createClient` that
 * keep a WebSocket connection signed in.
 *
 * A WebSocket is authenticated once, by the `connection_init` payload: so the
 * token goes in `connectionParams`, read fresh on every (re)connect. When the
 * server closes the socket because it refused the token (4401 or 4403), the
 * close goes to `manager.tokenRejected()` with the stamp of the token that
 * connection was made with, in `retryWait`, before graphql-ws reconnects: one
 * refresh, shared with the HTTP requests that meet a 401 at the same time (the
 * same manager), then a reconnect at once, and graphql-ws resubscribes.
 */
import type { ClientOptions } from 'graphql-ws'
import { assertManager } from '../../adapters/internal/wiring.js'
import { isAuthError } from '../../core/errors.js'
import type { TokenManager, TokenStamp } from '../../core/types.js'

export interface WsAuthOptions {
  /**
   * The fields of the `connection_init` payload that carry the token, merged
   * over your own `connectionParams`.
   * @default token => ({ Authorization: `Bearer ${token}` })
   */
  params?: (token: string) => Record<string, unknown>
  /**
   * The close codes by which your server says it refused the token.
   * @default [4401, 4403]
   */
  authCloseCodes?: number[]
}

/** graphql-ws's `Unauthorized`: fatal to its client, which never reconnects after it. */
const UNAUTHORIZED = 4401
/** graphql-ws's `Forbidden`: "might grant access after retry", so its client reconnects. */
const FORBIDDEN = 4403
/** graphql-ws's `InternalClientError`, fatal to its client: ends the subscriptions of a session that ended. */
const SESSION_ENDED = 4005

const isCloseEvent = (value: unknown): value is { code: number; reason: string } =>
  typeof value === 'object' && value !== null && 'code' in value && 'reason' in value

/** graphql-ws's own default `retryWait` (randomised exponential backoff), for closes that are not about auth. */
const backoff = (retries: number) => new Promise<void>((resolve) => setTimeout(resolve, 2 ** retries * 1000 + Math.floor(Math.random() * 2700 + 300)))

interface SocketLike {
  onclose: ((event: unknown) => void) | null
  close(code?: number, reason?: string): void
}
// A mixin's base class must take `any[]` (TypeScript's rule for class expressions over a constructor type).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SocketClass = new (...args: any[]) => SocketLike

/**
 * The WebSocket class graphql-ws is given: a 4401 close reaches graphql-ws as
 * 4403, which it retries (4401 it never does), so the refresh in `retryWait`
 * can run and the subscriptions resume. `originalOf` gives back the real event.
 */
function retryingUnauthorized(Base: SocketClass) {
  const originals = new WeakMap<object, unknown>()
  class AuthAwareWebSocket extends Base {
    override get onclose() {
      return super.onclose
    }
    override set onclose(listener: ((event: unknown) => void) | null) {
      super.onclose =
        listener &&
        ((event: unknown) => {
          if (!isCloseEvent(event) || event.code !== UNAUTHORIZED) return listener.call(this, event)
          const seen = { type: 'close', code: FORBIDDEN, reason: event.reason, wasClean: (event as { wasClean?: boolean }).wasClean }
          originals.set(seen, event)
          listener.call(this, seen)
        })
    }
  }
  return { impl: AuthAwareWebSocket, originalOf: (event: unknown) => (typeof event === 'object' && event && originals.get(event)) || event }
}

/**
 * graphql-ws `createClient` options that keep the connection signed in: a
 * fresh token in `connectionParams` on every (re)connect; an auth close (4401,
 * 4403) → one refresh, shared with the HTTP requests of the same manager, and a
 * reconnect at once, after which graphql-ws resubscribes. A refresh refused for
 * good ends the subscriptions with the `SessionExpiredError` (the sink's
 * `error`); one that failed for now with the `RefreshFailedError`, without
 * graphql-ws retrying it into more refreshes. When the session of an open
 * connection ends (sign-out, another login), the socket is closed (4005,
 * "Session ended"): its subscriptions never carry on under another session.
 * Your own `on`, `shouldRetry`, `retryWait` and `connectionParams` still apply.
 *
 * @example
 * import WebSocket from 'ws' // Node; browsers have a WebSocket
 * const client = createClient(withAuth(manager, { url: 'wss://api.example.com/graphql', webSocketImpl: WebSocket }))
 */
export function withAuth(manager: TokenManager, clientOptions: ClientOptions, options: WsAuthOptions = {}): ClientOptions {
  assertManager('withAuth(manager, clientOptions, options?)', manager)
  if (typeof clientOptions !== 'object' || clientOptions === null || !clientOptions.url) {
    throw new TypeError('withAuth(manager, clientOptions, options?): "clientOptions" must be the options of createClient(), with a url')
  }
  const params = options.params ?? ((token: string) => ({ Authorization: `Bearer ${token}` }))
  const authCodes = new Set(options.authCloseCodes ?? [UNAUTHORIZED, FORBIDDEN])
  const { on = {}, connectionParams, shouldRetry = isCloseEvent, retryWait = backoff } = clientOptions
  const base = (clientOptions.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket) as SocketClass | undefined
  const socket = base && authCodes.has(UNAUTHORIZED) ? retryingUnauthorized(base) : undefined

  /** The token the current (or last) connection was made with; null: none. */
  let connected: TokenStamp | null = null
  /** An auth close whose refresh runs in the next `retryWait`; `seen` is the event graphql-ws has. */
  let refused: { stamp: TokenStamp | null; event: unknown; seen: unknown } | undefined
  /** What the next connection attempt fails with instead of connecting (the refresh's outcome). */
  let outcome: { error: unknown } | undefined
  /** Errors and closes handed to the subscriptions as they are: graphql-ws must not retry them. */
  const final = new WeakSet<object>()
  const handBack = (error: unknown) => {
    if (typeof error === 'object' && error) final.add(error)
    return error
  }
  let unwatch = () => {}

  /** Closes `ws` when the session it was opened under ends: its subscriptions end with it. */
  const watch = (ws: unknown) => {
    unwatch()
    const session = connected?.session
    if (!session) return
    unwatch = manager.on('state', (state) => {
      if (state.status === 'signedIn' && state.session === session) return
      unwatch()
      ;(ws as SocketLike).close(SESSION_ENDED, 'Session ended')
    })
  }

  return {
    ...clientOptions,
    ...(socket && { webSocketImpl: socket.impl }),
    connectionParams: async () => {
      const failed = outcome
      outcome = undefined
      if (failed) throw handBack(failed.error)
      let token = manager.peekToken()
      if (token === undefined) token = await manager.getToken().catch((error: unknown) => Promise.reject(handBack(error)))
      connected = token ? { session: token.session, generation: token.generation } : null
      const own = typeof connectionParams === 'function' ? await connectionParams() : connectionParams
      return { ...own, ...(token && params(token.value)) }
    },
    shouldRetry: (errorOrClose) => {
      if ((typeof errorOrClose === 'object' && errorOrClose && final.has(errorOrClose)) || isAuthError(errorOrClose)) return false
      if (refused && errorOrClose === refused.seen) return true
      return shouldRetry(errorOrClose)
    },
    retryWait: async (retries) => {
      const pending = refused
      refused = undefined
      if (!pending) return retryWait(retries)
      // The one shared refresh (or none: a newer token is there already); then reconnect at once.
      try {
        const next = await manager.tokenRejected(pending.stamp)
        // Its session ended: the subscriptions get the close, never a connection under another session.
        if (!next) outcome = { error: pending.event }
      } catch (error) {
        outcome = { error }
      }
    },
    on: {
      ...on,
      connecting: (isRetry) => {
        // A new start (not a retry): nothing from an earlier connection applies.
        if (!isRetry) outcome = refused = undefined
        on.connecting?.(isRetry)
      },
      connected: (ws, payload, wasRetry) => {
        watch(ws)
        on.connected?.(ws, payload, wasRetry)
      },
      closed: (event) => {
        unwatch()
        const original = socket ? socket.originalOf(event) : event
        if (isCloseEvent(original) && authCodes.has(original.code)) {
          // Sent without a token: nothing to refresh; the subscriptions get the close.
          if (connected) refused = { stamp: connected, event: original, seen: event }
          else handBack(event)
        }
        on.closed?.(original)
      },
    },
  }
}
