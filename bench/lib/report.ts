/** Statistics and Markdown tables for the benchmark output (printed as is, pasted into docs/benchmarks.md). */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** 12345.6 → "12,346"; digits after the point for small numbers. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '—'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export const ratio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '—')
export const ms = (value: number, digits = 1): string => (Number.isFinite(value) ? `${num(value, digits)} ms` : '—')
export const bytes = (value: number): string => `${num(value)} B`

/** Prints a Markdown table, columns padded so it also reads well in a terminal. */
export function table(title: string, head: string[], rows: (string | number)[][], notes: string[] = []): void {
  const cells = [head, ...rows.map((row) => row.map(String))]
  const widths = head.map((_, i) => Math.max(3, ...cells.map((row) => (row[i] ?? '').length)))
  const line = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`
  const out = [`\n### ${title}\n`, line(head), `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`]
  for (const row of cells.slice(1)) out.push(line(row))
  if (notes.length) out.push('', ...notes)
  console.log(out.join('\n'))
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Gives queued promise reactions and I/O callbacks a chance to run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
