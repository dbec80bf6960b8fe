import type { TokenManager } from '../../core/types.js'

/**
 * Fails at the adapter's call, not at the first request, when it was wired
 * without a manager (an `undefined` import, the arguments swapped).
 */
export function assertManager(call: string, manager: TokenManager | undefined): void {
  if (typeof manager?.peekToken !== 'function' || typeof manager.getToken !== 'function' || typeof manager.tokenRejected !== 'function') {
    throw new TypeError(`${call}: "manager" must be the token manager from createTokenManager({ refresh })`)
  }
}

/**
 * A GraphQL link or exchange sets headers before the request exists, so it
 * cannot sign a proof for the URL and method that will really be sent: with
 * a manager whose requests are signed (`sender`, e.g. DPoP) it refuses to be
 * wired, pointing to the fetch adapter, which signs every attempt.
 */
export function assertUnsigned(call: string, manager: TokenManager): void {
  if (manager.sender) {
    throw new TypeError(`${call}: this manager signs each request (sender: ${manager.sender.scheme}), which a link cannot do; leave it out and give your client fetch: createAuthFetch(manager) instead`)
  }
}
