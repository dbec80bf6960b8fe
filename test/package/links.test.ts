import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The README is read on the npm registry, where a relative link is dead and only
// the README's own headings can be jumped to.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const REPO = 'https://github.com/silent-refresh/silent-refresh'
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8')
const withoutCode = (markdown: string) => markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, '').replace(/`[^`\n]*`/g, '')

/** GitHub's heading ids: lower case, punctuation dropped (hyphens kept), spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
const headings = (markdown: string) =>
  new Set([...withoutCode(markdown.replace(/`([^`\n]*)`/g, '$1')).matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!)))
const links = (markdown: string) => [...withoutCode(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!)

describe('links in the README and docs/', () => {
  it('the README links only to absolute URLs and to its own headings', () => {
    const readme = read('README.md')
    const relative = links(readme).filter((href) => !/^(https?:|mailto:|#)/.test(href))
    expect(relative).toEqual([])
    const ids = headings(readme)
    expect(links(readme).filter((href) => href.startsWith('#') && !ids.has(href.slice(1)))).toEqual([])
  })

  it("the README's links into the repository name files that exist", () => {
    const files = links(read('README.md'))
      .filter((href) => href.startsWith(`${REPO}/`))
      .map((href) => href.slice(REPO.length).replace(/^\/(blob|tree)\/main\//, '').replace(/#.*$/, ''))
      .filter((path) => path && !path.startsWith('/'))
    expect(files.length).toBeGreaterThan(3)
    for (const path of files) expect(existsSync(join(ROOT, path)), path).toBe(true)
  })

  it.each(readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')))("docs/%s: links to its own headings resolve", (file) => {
    const markdown = read(`docs/${file}`)
    const ids = headings(markdown)
    expect(links(markdown).filter((href) => href.startsWith('#') && !ids.has(href.slice(1)))).toEqual([])
  })
})
