import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyReply } from 'fastify'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError } from '../errors.ts'

/** The SDK's ESM build (`npm run build` at the repository root writes it). */
export const SDK_DIST = fileURLToPath(new URL('../../../dist/', import.meta.url))
/** The demo page's own script and stylesheet. */
export const PAGE_ASSETS = fileURLToPath(new URL('../../public/assets/', import.meta.url))

const FILE = /^[A-Za-z0-9_-]+\.(js|css)$/
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' }

async function send(reply: FastifyReply, path: string, name: string): Promise<FastifyReply> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    const hint = path.startsWith(SDK_DIST) ? ' Run `npm run build` at the repository root (`npm run demo` does).' : ''
    throw new HttpError(404, 'not_found', `No file ${name}.${hint}`)
  }
  const ext = name.slice(name.lastIndexOf('.') + 1)
  return reply
    .type(TYPES[ext]!)
    .header('cache-control', 'no-cache')
    .send(text)
}

/**
 * Static files of the demo page: `GET /sdk/<entry>.js` and `/sdk/internal/<chunk>.js`
 * (the SDK's ESM build from `dist/`, served as built: it imports nothing by a bare
 * name, so the browser needs no import map), and `GET /assets/<file>` (the page's script and stylesheet). Names are matched
 * against a strict pattern, never joined as given.
 */
const sdkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const params = Type.Object({ file: Type.String({ maxLength: 100 }) })
  const file = (name: string) => {
    if (!FILE.test(name) || !name.endsWith('.js')) throw new HttpError(404, 'not_found', `No file ${name}.`)
    return name
  }

  app.get('/sdk/:file', { schema: { params } }, async (request, reply) => {
    const name = file(request.params.file)
    return send(reply, join(SDK_DIST, name), name)
  })

  app.get('/sdk/internal/:file', { schema: { params } }, async (request, reply) => {
    const name = file(request.params.file)
    return send(reply, join(SDK_DIST, 'internal', name), name)
  })

  app.get('/assets/:file', { schema: { params } }, async (request, reply) => {
    const name = request.params.file
    if (!FILE.test(name)) throw new HttpError(404, 'not_found', `No file ${name}.`)
    return send(reply, join(PAGE_ASSETS, name), name)
  })
}

export default sdkRoutes
