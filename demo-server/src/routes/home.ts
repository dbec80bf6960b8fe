import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

/** The static page served at `/`; issue 5 replaces it with the live demo page. */
export const HOME_PAGE = new URL('../../public/index.html', import.meta.url)

/** `GET /` — a static HTML page naming the server, its routes and the demo credentials. */
export default async function homeRoutes(app: FastifyInstance): Promise<void> {
  const html = readFileSync(HOME_PAGE, 'utf8')
  app.get('/', async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html)
  })
}
