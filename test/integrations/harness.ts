// What the client integration tests share: a signed-in manager on the real
// node:http token server (test/helpers/token-server.ts), with the fetch that
// createAuthFetch wraps able to hold one response back (a 401 that is late on
// the network), and a record of what the manager did with each 401.
import { createTokenManager, refreshTokenGrant, type TokenManager, type TokenManagerOptions, type UnauthorizedOutcome } from '../../src/index.js'
import type { TokenServer } from '../helpers/token-server.js'

/** The core's retry policy in these tests: 3 attempts per refresh, short backoff (the counts matter, not the delays). */
export const CORE_ATTEMPTS = 3

export interface Session {
  manager: TokenManager
  /** What `tokenRejected` decided for each 401, in order. */
  outcomes: UnauthorizedOutcome[]
  /** The fetch to give createAuthFetch (or a client's fetchFn): the global fetch, with {@link Session.holdFirst}. */
  fetch: typeof fetch
  /**
   * Holds back the first response to `path` until `release()`: the request went
   * out (and the server answered) but the client sees the answer late.
   * `arrived` resolves when that response is in and held.
   */
  holdFirst(path: string): { arrived: Promise<void>; release(): void }
}

/** A manager signed in on `server` with a fresh session; disposed by `cleanup()`. */
export async function signedIn(server: TokenServer, cleanup: (dispose: () => void) => void, options: Partial<TokenManagerOptions> = {}): Promise<Session> {
  const manager = createTokenManager({
    refresh: refreshTokenGrant({ url: `${server.url}/auth/token` }),
    retry: { attempts: CORE_ATTEMPTS - 1, baseDelayMs: 5 },
    ...options,
  })
  cleanup(() => manager.dispose())
  const outcomes: UnauthorizedOutcome[] = []
  manager.on('unauthorized', ({ outcome }) => outcomes.push(outcome))
  await manager.setTokens(server.issue())

  let held: { path: string; arrived: () => void; released: Promise<void> } | undefined
  const holdingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname
    const hold = held
    if (hold && hold.path === path) {
      held = undefined
      hold.arrived()
      await hold.released
    }
    return response
  }
  return {
    manager,
    outcomes,
    fetch: holdingFetch,
    holdFirst(path) {
      let arrived!: () => void
      let release!: () => void
      const arrival = new Promise<void>((resolve) => (arrived = resolve))
      held = { path, arrived, released: new Promise<void>((resolve) => (release = resolve)) }
      return { arrived: arrival, release }
    },
  }
}

/** `n` indexes, for bursts. */
export const range = (n: number) => Array.from({ length: n }, (_, i) => i)
