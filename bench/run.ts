/**
 * `npm run bench` runs every benchmark; `npm run bench -- burst memory` runs some.
 * Each benchmark runs in its own Node process (fresh heap and JIT, --expose-gc),
 * resolving "silent-refresh" to the built dist/ as a user's import does.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const BENCHMARKS = {
  bundle: 'bundle.ts',
  overhead: 'overhead.ts',
  instructions: 'instructions.ts',
  dpop: 'dpop.ts',
  burst: 'burst.ts',
  'late-401': 'late-401.ts',
  memory: 'memory.ts',
  'demo-server': 'demo-server.ts',
  'demo-dpop': 'demo-server-dpop.ts',
} as const
type Name = keyof typeof BENCHMARKS
const ALIASES: Record<string, Name> = { instr: 'instructions', late: 'late-401', demo: 'demo-server', size: 'bundle' }
/** No single benchmark may run away with the budget; callgrind runs Node about 50× slower. */
const TIMEOUT_MS = 240_000
const TIMEOUTS_MS: Partial<Record<Name, number>> = { instructions: 900_000 }

const names = process.argv.slice(2).map((arg) => ALIASES[arg] ?? arg)
const unknown = names.filter((name) => !(name in BENCHMARKS))
if (unknown.length) {
  console.error(`Unknown benchmark: ${unknown.join(', ')}. Choose from: ${Object.keys(BENCHMARKS).join(', ')}.`)
  process.exit(2)
}
const selected = (names.length ? names : Object.keys(BENCHMARKS)) as Name[]

const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ')
console.log(`## silent-refresh benchmarks

- ${new Date().toISOString()}
- ${availableParallelism()} cores (${cpu}), Node ${process.version}, ${process.platform} ${process.arch}
- load average at start: ${load()} (a shared machine: ratios and medians of interleaved runs, not absolute numbers, are the result)
- command: npm run bench${names.length ? ` -- ${names.join(' ')}` : ''}`)

const bench = fileURLToPath(new URL('.', import.meta.url))
const timings: [Name, number, string][] = []
for (const name of selected) {
  const start = performance.now()
  const code = await new Promise<number | string>((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', `${bench}${BENCHMARKS[name]}`], {
      stdio: 'inherit',
      env: { ...process.env, TSX_TSCONFIG_PATH: `${bench}tsconfig.json` },
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUTS_MS[name] ?? TIMEOUT_MS)
    child.on('exit', (exitCode, signal) => {
      clearTimeout(timer)
      resolve(exitCode ?? signal ?? 'killed')
    })
  })
  timings.push([name, performance.now() - start, code === 0 ? 'ok' : `FAILED (${code})`])
}

console.log(`\n### Run\n\n| benchmark | time | result |\n| --- | ---: | --- |`)
for (const [name, ms, result] of timings) console.log(`| ${name} | ${(ms / 1000).toFixed(1)} s | ${result} |`)
const total = timings.reduce((sum, [, ms]) => sum + ms, 0)
console.log(`\nTotal ${(total / 1000).toFixed(1)} s; load average at the end: ${load()}.`)
if (timings.some(([, , result]) => result !== 'ok')) process.exit(1)
