// Run by scripts/node-matrix.sh inside a project that installed the packed tarball
// beside msw 3: the CommonJS build of "silent-refresh/testing" loads msw 3 (ESM only)
// through require(esm), and its handlers answer.
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: this checks the CJS build */
const assert = require('node:assert/strict')
const { setupServer } = require('msw/node')
const { createTokenServer } = require('silent-refresh/testing')

const { version } = require('msw/package.json')
assert.match(version, /^3\./)
const tokens = createTokenServer({ baseUrl: 'https://api.test' })
const server = setupServer(...tokens.handlers)
server.listen({ onUnhandledRequest: 'error' })
const { accessToken } = tokens.issueTokens()
fetch('https://api.test/api/me', { headers: { authorization: `Bearer ${accessToken}` } })
  .then(async (response) => {
    assert.equal(response.status, 200)
    assert.equal((await response.json()).sub, 'alice')
    assert.equal(tokens.stats.authorized, 1)
    console.log(`CJS: silent-refresh/testing on msw ${version}: a protected request answered 200`)
  })
  .finally(() => server.close())
