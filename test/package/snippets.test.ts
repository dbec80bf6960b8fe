import { describe, expect, it } from 'vitest'
import { docSlug, extractSnippets, snippetPath } from './snippets.js'

const md = (...lines: string[]) => lines.join('\n')

describe('extractSnippets: the docs convention of CONTRIBUTING.md', () => {
  it('a ts/js block without a kind is a complete program; kinds, file= and size are read from the info string', () => {
    const snippets = extractSnippets(
      md('# T', '```ts', 'a()', '```', '```ts fragment', 'b()', '```', '```ts browser file=src/auth.ts size', 'c()', '```', '```ts outline', 'd(x?)', '```'),
      'README.md',
    )
    expect(snippets.map(({ line, kind, file, size }) => ({ line, kind, file, size }))).toEqual([
      { line: 2, kind: 'run', file: undefined, size: false },
      { line: 5, kind: 'fragment', file: undefined, size: false },
      { line: 8, kind: 'browser', file: 'src/auth.ts', size: true },
      { line: 11, kind: 'outline', file: undefined, size: false },
    ])
    expect(snippets[0]!.code).toBe('a()\n')
  })

  it('leaves other languages alone, and reads typescript/javascript, tildes, longer fences and indented blocks', () => {
    const snippets = extractSnippets(
      md('```sh', 'npm test', '```', '~~~typescript', 'x()', '~~~', '````js', '```ts', 'inner', '```', '````', '- item', '  ```ts', '  y()', '  ```'),
      'docs/x.md',
    )
    expect(snippets.map((s) => [s.lang, s.code])).toEqual([
      ['ts', 'x()\n'],
      ['js', '```ts\ninner\n```\n'],
      ['ts', 'y()\n'],
    ])
  })

  it('a js block with require() and no import is CommonJS', () => {
    const [cjs, esm] = extractSnippets(md('```js', "const a = require('a')", '```', '```js', "import a from 'a'", '```'), 'R.md')
    expect([cjs!.commonjs, esm!.commonjs]).toEqual([true, false])
    expect([snippetPath(cjs!), snippetPath(esm!)]).toEqual(['run-line-1.cjs', 'run-line-4.mjs'])
  })

  it('an unknown word, two kinds, a file= outside the folder, or an unclosed block is an error naming the line', () => {
    expect(() => extractSnippets(md('', '```ts fragmnet', 'x', '```'), 'R.md')).toThrow('R.md:2: unknown word "fragmnet"')
    expect(() => extractSnippets(md('```ts fragment browser', 'x', '```'), 'R.md')).toThrow('R.md:1: a block has one kind')
    expect(() => extractSnippets(md('```ts file=../up.ts', 'x', '```'), 'R.md')).toThrow('unknown word "file=../up.ts"')
    expect(() => extractSnippets(md('```ts', 'x'), 'R.md')).toThrow('R.md:1: a code block is not closed')
  })

  it('names folders after the markdown file', () => {
    expect([docSlug('README.md'), docSlug('docs/testing.md')]).toEqual(['readme', 'docs-testing'])
  })
})
