// A script whose last act is `await store.close()` on a SQLite file: the checkpoint worker is unref'd
// (a server never waits on it), and the close used to leave nothing keeping the process alive while
// it waited for the worker to stop: Node exited with code 13 (an unsettled top-level await) and the
// line after it never ran.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'sr-sqlite-close-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('await store.close() as the last act of a script: the script goes on and exits 0', async () => {
  const store = fileURLToPath(new URL('../src/store/sqlite-store.ts', import.meta.url))
  const script = [
    `const { openSqliteStore } = await import(${JSON.stringify(store)})`,
    `const store = openSqliteStore(${JSON.stringify(join(dir, 'close.db'))})`,
    'await store.ping()',
    'await store.close()',
    "console.log('closed')",
  ].join('\n')
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)) })
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk))
  child.stderr.on('data', (chunk: Buffer) => (err += chunk))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  expect({ code, out: out.trim() }, err).toEqual({ code: 0, out: 'closed' })
})
