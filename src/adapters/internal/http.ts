import { AuthError } from '../../core/errors.js'

/**
 * A `Request` of any fetch implementation or realm (undici's or node-fetch's
 * package, a polyfill, an iframe's): `instanceof Request` fails for all of
 * them, so they are recognised by shape, and judged by their `url`.
 */
export interface RequestLike {
  readonly url: string
  readonly method?: string
  readonly headers?: unknown
  readonly signal?: AbortSignal | null
  readonly redirect?: RequestRedirect
  clone(): RequestLike
  arrayBuffer(): Promise<ArrayBuffer>
}

export function requestLike(input: unknown): RequestLike | undefined {
  return typeof input === 'object' && input !== null && typeof (input as RequestLike).url === 'string' ? (input as RequestLike) : undefined
}

/**
 * How a body can be sent again. `stream`: a Node stream (the `form-data`
 * package is one) or an async iterable, read once and gone; `web-stream`: a
 * ReadableStream, which a tee replays; everything else is held in memory.
 */
export function bodyKind(body: unknown): 'replayable' | 'web-stream' | 'stream' {
  if (typeof body !== 'object' || body === null) return 'replayable'
  if (typeof (body as ReadableStream).getReader === 'function') return 'web-stream'
  if (typeof (body as { pipe?: unknown }).pipe === 'function' || typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') return 'stream'
  return 'replayable'
}

export const isRedirect = (status: number): boolean => status === 301 || status === 302 || status === 303 || status === 307 || status === 308

/** The error for a body that would have to be sent a second time. */
export const notReplayable = (client: 'axios' | 'fetch', why: string, cause?: unknown): AuthError =>
  new AuthError(
    'BODY_NOT_REPLAYABLE',
    `${client}: the request's body is a stream, which cannot be sent twice, and ${why}; it was not sent again. ` +
      'Send it again with a new stream, or send a Buffer, Blob or string, which are replayed.',
    cause === undefined ? undefined : { cause },
  )
