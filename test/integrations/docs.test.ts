// docs/integrations/: the package test (test/package/docs.test.ts) runs and
// type-checks their ts blocks; here, what it cannot: JSX blocks are excerpts of
// examples/ (type-checked by `npm run typecheck`, run in Chromium by
// test/e2e/react.test.ts), and every page is in the README's Integrations table.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const pages = readdirSync(join(ROOT, 'docs/integrations')).filter((f) => f.endsWith('.md'))
const examples = readdirSync(join(ROOT, 'examples'), { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.(tsx?|jsx?)$/.test(f))
  .map((f) => readFileSync(join(ROOT, 'examples', f), 'utf8'))

const jsxBlocks = (markdown: string) => [...markdown.matchAll(/^```(?:tsx|jsx)[^\n]*\n([\s\S]*?)^```\s*$/gm)].map((m) => m[1]!)

describe('docs/integrations', () => {
  it.each(pages)('%s: every tsx block is a verbatim excerpt of a file in examples/', (page) => {
    for (const block of jsxBlocks(readFileSync(join(ROOT, 'docs/integrations', page), 'utf8'))) {
      expect(examples.some((file) => file.includes(block)), block).toBe(true)
    }
  })

  it("every page is linked from the README's Integrations table", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const table = readme.slice(readme.indexOf('## Integrations'), readme.indexOf('\n## ', readme.indexOf('## Integrations') + 1))
    for (const page of pages) expect(table).toContain(`/docs/integrations/${page})`)
  })
})
