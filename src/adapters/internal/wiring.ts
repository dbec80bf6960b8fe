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
