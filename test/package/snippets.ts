// Finds the code blocks of the README and docs/ that the package test runs,
// following the convention written down in CONTRIBUTING.md ("Docs that run"):
//
//   ```ts                 a complete program: type-checked, then run in Node
//   ```ts browser         a complete program for a page: type-checked, then run in Chromium
//   ```ts fragment        part of a program: type-checked with the names of test/package/fragment-context.d.ts
//   ```ts outline         the outline of an API, not code: left alone
//   ```ts file=a/b.ts     written as a/b.ts, so another block can import it; *.test.ts files run with vitest
//   ```ts size            the block whose bundle size the README states (scripts/readme-size.ts)
//
// A ts/js block without a kind is a complete program: a new block is checked
// unless it says otherwise. An unknown word is an error, so a typo never
// turns a check off.

export type SnippetKind = 'run' | 'browser' | 'fragment' | 'outline'

export interface Snippet {
  /** The markdown file, relative to the repository ('README.md', 'docs/testing.md'). */
  doc: string
  /** 1-based line of the opening fence, for messages. */
  line: number
  lang: 'ts' | 'js'
  kind: SnippetKind
  /** From `file=`: the name it is written under. */
  file?: string
  /** From `size`: the README states this block's bundle size. */
  size: boolean
  /** A js block that uses require() and no import: CommonJS. */
  commonjs: boolean
  code: string
}

const LANGS: Record<string, 'ts' | 'js'> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js' }
const KINDS = new Set<SnippetKind>(['browser', 'fragment', 'outline'])

/** The ts/js blocks of one markdown file, each with its kind; throws on a malformed info string. */
export function extractSnippets(markdown: string, doc: string): Snippet[] {
  const lines = markdown.split('\n')
  const snippets: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(lines[i]!)
    if (!open) continue
    const [, indent, fence, info, meta] = open as unknown as [string, string, string, string, string]
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const line = lines[j]!
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') break
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line)
    }
    if (j === lines.length) throw new Error(`${doc}:${i + 1}: a code block is not closed`)
    const lang = LANGS[info.toLowerCase()]
    if (lang) snippets.push(parse(doc, i + 1, lang, meta, body.join('\n')))
    i = j
  }
  return snippets
}

function parse(doc: string, line: number, lang: 'ts' | 'js', meta: string, code: string): Snippet {
  const snippet: Snippet = { doc, line, lang, kind: 'run', size: false, commonjs: false, code: `${code}\n` }
  for (const word of meta.split(/\s+/).filter(Boolean)) {
    if (KINDS.has(word as SnippetKind)) {
      if (snippet.kind !== 'run') throw new Error(`${doc}:${line}: a block has one kind, not "${snippet.kind}" and "${word}"`)
      snippet.kind = word as SnippetKind
    } else if (word === 'size') {
      snippet.size = true
    } else if (word.startsWith('file=') && /^file=[\w./-]+\.(ts|js|cjs|mjs)$/.test(word) && !word.includes('..')) {
      snippet.file = word.slice('file='.length)
    } else {
      throw new Error(`${doc}:${line}: unknown word "${word}" after \`\`\`${lang} (kinds: browser, fragment, outline; also file=<path>, size)`)
    }
  }
  snippet.commonjs = lang === 'js' && /\brequire\(/.test(code) && !/^\s*import\s/m.test(code)
  return snippet
}

/** The name a snippet is written under: its `file=`, else one made from where it is. */
export function snippetPath(snippet: Snippet): string {
  if (snippet.file) return snippet.file
  const ext = snippet.lang === 'ts' ? 'ts' : snippet.commonjs ? 'cjs' : 'mjs'
  return `${snippet.kind}-line-${snippet.line}.${ext}`
}

/** A folder name for a markdown file: 'docs/testing.md' → 'docs-testing'. */
export function docSlug(doc: string): string {
  return doc.replace(/\.md$/i, '').replace(/[^\w]+/g, '-').toLowerCase()
}
