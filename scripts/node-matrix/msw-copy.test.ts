// Guards the msw 3 run of scripts/node-matrix.sh: the tests (and dist/testing.js) must
// load the msw in MATRIX_MSW, not the repository's msw 2, or passing proves nothing.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { http } from 'msw'
import { setupServer } from 'msw/node'
import { expect, test } from 'vitest'

test('msw and msw/node are the copy in MATRIX_MSW', async () => {
  const dir = process.env.MATRIX_MSW!
  const { version } = (await import(pathToFileURL(join(dir, 'package.json')).href, { with: { type: 'json' } })).default as { version: string }
  const core = await import(pathToFileURL(join(dir, 'lib/core/index.js')).href)
  const node = await import(pathToFileURL(join(dir, 'lib/node/index.js')).href)
  expect(http).toBe(core.http)
  expect(setupServer).toBe(node.setupServer)
  expect(version).toMatch(/^3\./)
})
