import type { AttemptBudget } from '../store/types.ts'
import type { RateLimitRule } from '../options.ts'

/**
 * Which budgets a login attempt draws on (see the README's security section
 * for why, against OWASP's Authentication and Credential Stuffing guidance).
 * Every attempt takes a slot before the password is hashed; a success gives
 * its slots back, so only failures use a budget up.
 *
 * - From a known device (a valid device cookie for this username): that
 *   device's own budget, nothing else. A stranger can spend no budget of it.
 * - From anywhere else: the budget of this account from this address (one
 *   guesser is stopped without affecting anyone elsewhere), and the budget of
 *   this account from all unknown devices together (a guesser with many
 *   addresses is stopped too; then unknown devices wait, known ones do not).
 *
 * Keys use `\n` as a separator: usernames cannot contain control characters.
 */
export interface LoginBudgetRules {
  perAccountAndAddress: RateLimitRule
  perAccount: RateLimitRule
  perDevice: RateLimitRule
}

export type LoginBudgetKind = 'account-address' | 'account' | 'device'

export function loginBudgets(rules: LoginBudgetRules, who: { username: string; address: string; deviceId: string | undefined }): AttemptBudget[] {
  if (who.deviceId !== undefined) {
    return [{ key: `login\ndevice\n${who.deviceId}`, ...rules.perDevice }]
  }
  return [
    { key: `login\naccount-address\n${who.username}\n${who.address}`, ...rules.perAccountAndAddress },
    { key: `login\naccount\n${who.username}`, ...rules.perAccount },
  ]
}

/** What a refused attempt is told, per budget: enough to act on, nothing about whether the account exists. */
export function refusalMessage(key: string): string {
  const kind = key.split('\n')[1] as LoginBudgetKind
  switch (kind) {
    case 'device':
      return 'Too many failed logins from this device; see Retry-After.'
    case 'account':
      return 'Too many failed logins for this account from unrecognised devices; sign in from a device you have signed in on before, or see Retry-After.'
    case 'account-address':
      return 'Too many failed logins for this account from your address; see Retry-After.'
  }
}
