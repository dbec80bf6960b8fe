// Run by scripts/node-matrix.sh inside a project that installed the packed tarball
// beside msw 3: the ESM build of "silent-refresh/testing" with that msw, over fetch.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { setupServer } from 'msw/node'
import { createTokenServer } from 'silent-refresh/testing'
import { createTokenManager, refreshTokenGrant } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'

const { version } = createRequire(import.meta.url)('msw/package.json')
assert.match(version, /^3\./)
const tokens = createTokenServer({ baseUrl: 'https://api.test' })
const server = setupServer(...tokens.handlers)
server.listen({ onUnhandledRequest: 'error' })
try {
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: 'https://api.test/auth/token' }) })
  await manager.setTokens(tokens.issueTokens())
  const authFetch = createAuthFetch(manager, { allowedOrigins: ['https://api.test'] })
  tokens.expireAccessTokens()
  const statuses = await Promise.all([1, 2, 3].map(() => authFetch('https://api.test/api/me').then((response) => response.status)))
  assert.deepEqual(statuses, [200, 200, 200])
  assert.equal(tokens.stats.refreshCalls, 1)
  manager.dispose()
  console.log(`ESM: silent-refresh/testing on msw ${version}: 3 requests after expiry, 1 refresh`)
} finally {
  server.close()
}
