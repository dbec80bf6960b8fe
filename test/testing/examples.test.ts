// examples/user-test is the test docs/testing.md shows; it must keep passing.
// It imports "silent-refresh/testing" by name, as a user's test does, so it
// runs in its own vitest process with its config (the name mapped to src/).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

describe('examples/user-test', () => {
  it('passes, every test of it', () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'NODE_ENV'))
    const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'examples/user-test/vitest.config.ts', '--reporter', 'json'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    })
    type Report = { numTotalTests: number; numPassedTests: number; testResults: { assertionResults: { fullName: string; failureMessages: string[] }[] }[] }
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as Report
    const failures = report.testResults
      .flatMap((file) => file.assertionResults)
      .filter((test) => test.failureMessages.length)
      .map((test) => `${test.fullName}: ${test.failureMessages[0]?.split('\n')[0]}`)
    expect(failures).toEqual([])
    expect(report.numTotalTests).toBeGreaterThanOrEqual(4)
    expect(report.numPassedTests).toBe(report.numTotalTests)
    expect(run.status, run.stderr).toBe(0)
  }, 60_000)
})
