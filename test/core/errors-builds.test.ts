// DESIGN 13: `instanceof` holds across copies of the package. The real builds,
// dist/index.js (ESM) and dist/index.cjs (CJS), are loaded side by side in one
// plain Node process, as an app that imports one and a dependency that requires
// the other would; each makes its errors the way users meet them (a manager whose
// refresh fails), and the other's classes must recognise them.
import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const dist = (file: string) => fileURLToPath(new URL(`../../dist/${file}`, import.meta.url))
const built = existsSync(dist('index.js')) && existsSync(dist('index.cjs'))

const script = `
import { createRequire } from 'node:module'
const esm = await import(${JSON.stringify(dist('index.js'))})
const cjs = createRequire(import.meta.url)(${JSON.stringify(dist('index.cjs'))})

async function errorsOf(copy) {
  const fail = (status) => async () => { throw Object.assign(new Error('token endpoint answered ' + status), { status }) }
  const expired = copy.createTokenManager({ refresh: fail(400) })
  await expired.setTokens({ accessToken: 'a', expiresAt: Date.now() - 1000 })
  const failed = copy.createTokenManager({ refresh: fail(503), retry: { attempts: 0 } })
  await failed.setTokens({ accessToken: 'a', expiresAt: Date.now() - 1000 })
  const disposed = copy.createTokenManager({ refresh: fail(503) })
  const waiting = disposed.refresh().catch((e) => e)
  disposed.dispose()
  return {
    expired: await expired.getAccessToken().catch((e) => e),
    failed: await failed.getAccessToken().catch((e) => e),
    disposed: await waiting,
  }
}

const classes = ['AuthError', 'SessionExpiredError', 'RefreshFailedError']
const result = {}
for (const [from, to] of [['cjs', 'esm'], ['esm', 'cjs']]) {
  const errors = await errorsOf(from === 'cjs' ? cjs : esm)
  const target = to === 'cjs' ? cjs : esm
  for (const [kind, error] of Object.entries(errors)) {
    result[from + ' ' + kind + ' in ' + to] = Object.fromEntries([
      ...classes.map((name) => [name, error instanceof target[name]]),
      ['Error', error instanceof Error],
      ['isAuthError', target.isAuthError(error)],
    ])
  }
}
// A class of the app's own, extending the package's, claims only its own instances.
class AppError extends esm.SessionExpiredError {}
result['cjs expired in AppError'] = (await errorsOf(cjs)).expired instanceof AppError
result['look-alike'] = { name: 'SessionExpiredError', code: 'SESSION_EXPIRED' } instanceof esm.AuthError
console.log(JSON.stringify(result))
`

describe.skipIf(!built)('instanceof across the ESM and the CJS build (needs `npm run build`)', () => {
  test('regression: an error made by the CJS build is instanceof the ESM classes, and the other way round', () => {
    // A stale build would test old code: say so rather than pass or fail for the wrong reason.
    const source = fileURLToPath(new URL('../../src/core/errors.ts', import.meta.url))
    expect(statSync(dist('index.cjs')).mtimeMs, 'dist/ is older than src/core/errors.ts: run npm run build').toBeGreaterThanOrEqual(statSync(source).mtimeMs)

    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    const result = JSON.parse(out) as Record<string, unknown>
    const expected = (kind: 'expired' | 'failed' | 'disposed') => ({
      AuthError: true,
      SessionExpiredError: kind === 'expired',
      RefreshFailedError: kind === 'failed',
      Error: true,
      isAuthError: true,
    })
    for (const pair of ['cjs', 'esm']) {
      const other = pair === 'cjs' ? 'esm' : 'cjs'
      for (const kind of ['expired', 'failed', 'disposed'] as const) {
        expect(result[`${pair} ${kind} in ${other}`], `${pair} ${kind} in ${other}`).toEqual(expected(kind))
      }
    }
    expect(result['cjs expired in AppError']).toBe(false)
    expect(result['look-alike']).toBe(false)
  })
})
