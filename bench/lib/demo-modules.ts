/**
 * The demo server's modules a benchmark builds its app from. demo-server is its
 * own TypeScript project (imports end in .ts), so it is loaded by path at run
 * time and typed here by the little the benchmarks use. `Store` is what the
 * caller does with the SQLite store (demo-child passes it on; monitoring-cost
 * rotates on it directly).
 */
import type { FastifyInstance } from 'fastify'

export interface DemoModules<Store = unknown> {
  buildApp(options: Record<string, unknown>): Promise<FastifyInstance>
  openSqliteStore(path: string): Store
  generateSigningKeys(): Promise<unknown>
  createScryptHasher(params: { N: number; r: number; p: number }): unknown
  seedUser(store: unknown, hasher: unknown, username: string, password: string): Promise<unknown>
}

const src = new URL('../../demo-server/src/', import.meta.url)
const load = async (path: string) => (await import(new URL(path, src).href)) as Record<string, unknown>

export async function loadDemoModules<Store = unknown>(): Promise<DemoModules<Store>> {
  const modules = await Promise.all(['app.ts', 'store/sqlite-store.ts', 'tokens/keys.ts', 'auth/password.ts', 'auth/seed.ts'].map(load))
  return Object.assign({}, ...modules) as DemoModules<Store>
}
