import type { PasswordHasher } from './password.ts'
import type { Store, UserRecord } from '../store/types.ts'

/**
 * Makes sure the demo user exists with this password. An existing hash is kept
 * when it still matches (no rehash on every start); a changed `DEMO_PASSWORD`
 * replaces it.
 */
export async function seedUser(store: Store, hasher: PasswordHasher, username: string, password: string): Promise<UserRecord> {
  const existing = await store.findUserByUsername(username)
  if (existing && (await hasher.verify(password, existing.passwordHash))) return existing
  return store.upsertUser({ username, passwordHash: await hasher.hash(password) })
}
