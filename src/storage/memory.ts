import type { TokenSet, TokenStorage } from '../core/types.js'

/**
 * Keeps tokens in memory only: gone on reload. The default, and the safest
 * place for an access token in a browser.
 */
export function memoryStorage(): TokenStorage {
  let tokens: TokenSet | null = null
  return {
    get: () => tokens,
    set: (next) => void (tokens = { ...next }),
    clear: () => void (tokens = null),
  }
}
