// The demo page loads the SDK from dist/: build it when it is missing or older than src/.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const newest = (dir: string): number =>
  Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)))

export default function setup(): void {
  const built = ['dist/index.js', 'dist/fetch.js', 'dist/cross-tab.js', 'dist/react.js', 'dist/react-native/axios.js', 'dist/react-native/fetch.js']
  if (built.every(existsSync) && Math.min(...built.map((f) => statSync(f).mtimeMs)) >= newest('src')) return
  console.log('e2e: building the SDK (dist/ is missing or older than src/)')
  execFileSync('npx', ['rollup', '-c', '--silent'], { stdio: 'inherit' })
}
