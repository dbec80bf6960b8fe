// examples/graphql/ runs as its README says, each against its local API, and
// prints what it claims: one refresh for a burst, a subscription that goes on.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'NODE_ENV' && name !== 'NODE_OPTIONS'))

function run(example: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // tsx with the repository's tsconfig: "silent-refresh/*" maps to src/, as the examples' README says.
    execFile(process.execPath, ['node_modules/tsx/dist/cli.mjs', '--tsconfig', 'tsconfig.json', example], { cwd: root, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, output: `${stdout}${stderr}`.trim() })
    })
  })
}

describe('examples/graphql', () => {
  it.each([
    ['apollo.ts', '20 answers for alice, 1 refresh'],
    ['urql.ts', '20 answers for alice, 1 refresh'],
    ['graphql-ws.ts', '6 ticks across a reconnect, 1 refresh'],
  ])('%s runs and prints what it shows', async (file, printed) => {
    const { code, output } = await run(`examples/graphql/${file}`)
    expect(output).toBe(printed)
    expect(code).toBe(0)
  }, 60_000)
})
