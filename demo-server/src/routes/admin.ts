import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError } from '../errors.ts'
import { credentialCheck } from '../plugins/monitoring.ts'
import type { AuditEvent, AuditQuery } from '../store/types.ts'

/** Most events one page may hold (`limit`). */
export const MAX_EVENTS_PAGE = 100
/** Events per page without `limit`. */
export const DEFAULT_EVENTS_PAGE = 50
/** Admin requests per address and minute: a wrong credential cannot be guessed at speed. */
export const ADMIN_RATE_LIMIT = { max: 60, windowMs: 60_000 }

/** User ids (UUIDs) and family ids (22 base64url characters), and nothing else: 1–64 of `[A-Za-z0-9_-]`. */
const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })

const PageQuery = Type.Object(
  {
    // Query values are strings and coercion is off: the pattern is the type check, the range is checked below.
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
)

const Event = Type.Object(
  {
    id: Type.Integer(),
    at: Type.String(),
    type: Type.String(),
    session_id: Type.Union([Type.String(), Type.Null()]),
    user_id: Type.Union([Type.String(), Type.Null()]),
    address: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    instance: Type.String(),
    detail: Type.Union([
      Type.Object(
        {
          replayed_generation: Type.Optional(Type.Integer()),
          latest_generation: Type.Optional(Type.Integer()),
          budget: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
)

/** The answer: a page of events, newest first, and the cursor of the next page (null on the last). */
const EventsPage = Type.Object({ events: Type.Array(Event), next_cursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false })

/** `e<id>` in base64url: opaque to clients, checked strictly when it comes back. */
function encodeCursor(id: number): string {
  return Buffer.from(`e${id}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('latin1') : ''
  const match = /^e([1-9][0-9]{0,14})$/.exec(text)
  if (!match || encodeCursor(Number(match[1])) !== cursor) throw new HttpError(400, 'invalid_request', 'The cursor is not one this server gave out.')
  return Number(match[1])
}

function toJson(event: AuditEvent) {
  const { detail } = event
  return {
    id: event.id,
    at: new Date(event.at).toISOString(),
    type: event.type,
    session_id: event.familyId,
    user_id: event.userId,
    address: event.address,
    user_agent: event.userAgent,
    instance: event.instance,
    detail:
      detail === null
        ? null
        : {
            ...(detail.replayedGeneration !== undefined ? { replayed_generation: detail.replayedGeneration } : {}),
            ...(detail.latestGeneration !== undefined ? { latest_generation: detail.latestGeneration } : {}),
            ...(detail.budget !== undefined ? { budget: detail.budget } : {}),
          },
  }
}

/**
 * `/admin/*`: the audit trail, read-only, behind `ADMIN_TOKEN` (a bearer credential compared
 * in constant time). Registered only when that is set (`app.ts`); otherwise these paths are 404s.
 *
 * - `GET /admin/sessions/:userId/events`: every event of a user, all sessions
 * - `GET /admin/sessions/:userId/families/:familyId/events`: the events of one session (token family)
 *
 * Both newest first, `?limit=` 1–100 (default 50) and `?cursor=` from the previous page's `next_cursor`.
 */
const adminRoutes: FastifyPluginAsyncTypebox<{ adminToken: string }> = async (app, { adminToken }) => {
  const authorized = credentialCheck(adminToken)
  // preValidation, not onRequest: the rate limit (a route-level onRequest hook) counts every attempt
  // first, and no input is looked at before the credential is.
  app.addHook('preValidation', (request, reply, done) => {
    reply.header('cache-control', 'no-store')
    if (authorized(request.headers.authorization)) return done()
    request.log.warn('admin route: missing or wrong credential')
    done(new HttpError(401, 'unauthorized', 'This route needs the admin credential: Authorization: Bearer <ADMIN_TOKEN>.', { 'www-authenticate': 'Bearer realm="silent-refresh-admin"' }))
  })

  async function page(query: Pick<AuditQuery, 'userId' | 'familyId'>, raw: { limit?: string; cursor?: string }) {
    const limit = raw.limit === undefined ? DEFAULT_EVENTS_PAGE : Number(raw.limit)
    if (limit < 1 || limit > MAX_EVENTS_PAGE) throw new HttpError(400, 'invalid_request', `limit must be between 1 and ${MAX_EVENTS_PAGE}.`)
    const before = raw.cursor === undefined ? undefined : decodeCursor(raw.cursor)
    // One more than asked: whether there is a next page, without a count.
    const events = await app.store.listAuditEvents({ ...query, before, limit: limit + 1 })
    const shown = events.slice(0, limit)
    return { events: shown.map(toJson), next_cursor: events.length > limit ? encodeCursor(shown.at(-1)!.id) : null }
  }

  const config = { rateLimit: { max: ADMIN_RATE_LIMIT.max, timeWindow: ADMIN_RATE_LIMIT.windowMs } }
  app.get(
    '/sessions/:userId/events',
    { config, schema: { params: Type.Object({ userId: Id }), querystring: PageQuery, response: { 200: EventsPage } } },
    async (request) => page({ userId: request.params.userId }, request.query),
  )
  app.get(
    '/sessions/:userId/families/:familyId/events',
    { config, schema: { params: Type.Object({ userId: Id, familyId: Id }), querystring: PageQuery, response: { 200: EventsPage } } },
    async (request) => page({ userId: request.params.userId, familyId: request.params.familyId }, request.query),
  )
}

export default adminRoutes
