// attachAxios replays the request body byte for byte on the retry after a refresh,
// with the method and the user's headers kept. The server logs the raw bytes of both attempts.
import { Readable } from 'node:stream'
import axios, { type AxiosInstance, type Method } from 'axios'
import FormDataStream from 'form-data'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { AuthError, createTokenManager, type TokenManager } from '../../src/index.js'
import { attachAxios } from '../../src/adapters/axios.js'
import { within } from '../helpers/bounds.js'
import { fetchRefresh, rejection, startTokenServer, type EchoBody, type LoggedRequest, type TokenServer } from '../helpers/token-server.js'

let server: TokenServer
let manager: TokenManager
let api: AxiosInstance

beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(async () => {
  server.reset()
  manager = createTokenManager({ refresh: fetchRefresh(server) })
  await manager.setTokens(server.issue())
  api = axios.create({ baseURL: server.url })
  attachAxios(api, manager)
  server.expireAll() // the first attempt of every request 401s
})
afterEach(() => {
  manager.dispose()
})

const binary = () => Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 256)

/** Sends `data` through the adapter; returns both attempts as the server saw them. */
async function replay(method: Method, data: unknown, headers: Record<string, string> = {}) {
  const res = await api.request<EchoBody>({ url: '/api/echo', method, data, headers: { 'X-Trace': 'trace-1', ...headers } })
  expect(res.status).toBe(200)
  const attempts = server.requests('/api/echo')
  expect(attempts.map((entry) => entry.status)).toEqual([401, 200])
  expect(server.stats.refreshCalls).toBe(1)
  const [first, retry] = attempts as [LoggedRequest, LoggedRequest]
  for (const entry of attempts) {
    expect(entry.method).toBe(method.toUpperCase())
    expect(entry.headers['x-trace']).toBe('trace-1')
  }
  expect(retry.authorization).not.toBe(first.authorization)
  // What the echo answered is the retry as received.
  expect(Buffer.from(res.data.body, 'base64').equals(retry.body)).toBe(true)
  return { first, retry }
}

/** Both attempts carried exactly `expected`, with the same content-type. */
function sameBytes({ first, retry }: { first: LoggedRequest; retry: LoggedRequest }, expected: Uint8Array | string) {
  const bytes = Buffer.from(expected)
  expect(first.body.toString('hex')).toBe(bytes.toString('hex'))
  expect(retry.body.toString('hex')).toBe(bytes.toString('hex'))
  expect(retry.headers['content-type']).toBe(first.headers['content-type'])
}

test('a JSON object', async () => {
  const payload = { order: 42, note: 'café ✓', items: ['a', 'b'], nested: { ok: true } }
  const attempts = await replay('post', payload)
  sameBytes(attempts, JSON.stringify(payload))
  expect(attempts.retry.headers['content-type']).toMatch(/^application\/json/)
})

test('a string with its content-type, method PUT', async () => {
  const text = '  plain text, not trimmed; ünïcödé \n'
  const attempts = await replay('put', text, { 'Content-Type': 'text/plain; charset=utf-8' })
  sameBytes(attempts, text)
  expect(attempts.retry.headers['content-type']).toBe('text/plain; charset=utf-8')
})

test('URLSearchParams, method PATCH', async () => {
  const params = new URLSearchParams({ a: '1', b: 'two words', c: 'ü&=' })
  const attempts = await replay('patch', params)
  sameBytes(attempts, params.toString())
  expect(attempts.retry.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
})

test('FormData with fields and a file', async () => {
  const form = new FormData()
  form.append('name', 'alice')
  form.append('tags', 'x')
  form.append('tags', 'y')
  form.append('file', new File([binary()], 'photo.bin', { type: 'application/octet-stream' }))
  const { first, retry } = await replay('post', form)
  // Each attempt has its own multipart boundary; the parts must be the same.
  const parse = async (entry: LoggedRequest) => {
    expect(entry.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)
    const parsed = await new Response(new Uint8Array(entry.body), {
      headers: { 'content-type': entry.headers['content-type'] ?? '' },
    }).formData()
    const file = parsed.get('file') as File
    return {
      name: parsed.get('name'),
      tags: parsed.getAll('tags'),
      file: { name: file.name, type: file.type, bytes: Buffer.from(await file.arrayBuffer()).toString('hex') },
    }
  }
  const expected = {
    name: 'alice',
    tags: ['x', 'y'],
    file: { name: 'photo.bin', type: 'application/octet-stream', bytes: Buffer.from(binary()).toString('hex') },
  }
  expect(await parse(first)).toEqual(expected)
  expect(await parse(retry)).toEqual(expected)
})

test('a Blob', async () => {
  const attempts = await replay('post', new Blob([binary()], { type: 'application/octet-stream' }))
  sameBytes(attempts, binary())
})

test('an ArrayBuffer', async () => {
  const attempts = await replay('post', binary().buffer, { 'Content-Type': 'application/octet-stream' })
  sameBytes(attempts, binary())
})

test('a Uint8Array', async () => {
  const attempts = await replay('post', binary(), { 'Content-Type': 'application/octet-stream' })
  sameBytes(attempts, binary())
})

test('a Buffer (Node)', async () => {
  const attempts = await replay('post', Buffer.from(binary()), { 'Content-Type': 'application/octet-stream' })
  sameBytes(attempts, binary())
})

test('a request without a body keeps having none', async () => {
  const attempts = await replay('delete', undefined)
  sameBytes(attempts, '')
})

describe('bodies that cannot be sent twice', () => {
  test('regression: axios with the form-data package — the retry never settled; now its 401 refreshes once, then rejects with BODY_NOT_REPLAYABLE', async () => {
    const form = new FormDataStream()
    form.append('name', 'alice')
    form.append('file', Buffer.from(binary()), { filename: 'photo.bin', contentType: 'application/octet-stream' })
    const error = await within(5_000, rejection(api.post('/api/echo', form)), 'the request with a form-data body')
    expect(error).toBeInstanceOf(AuthError)
    expect((error as AuthError).code).toBe('BODY_NOT_REPLAYABLE')
    // The cause is the 401, without the request it carried.
    expect((error as AuthError).cause).toMatchObject({ status: 401 })
    expect((error as AuthError).cause).not.toHaveProperty('config')
    const attempts = server.requests('/api/echo')
    expect(attempts).toHaveLength(1)
    expect(attempts[0]?.status).toBe(401)
    expect(attempts[0]?.body.toString('latin1')).toContain('name="file"; filename="photo.bin"')
    expect(server.stats.refreshCalls).toBe(1)
    // The caller sends it again, with a new stream: it goes with the new token.
    const again = new FormDataStream()
    again.append('name', 'alice')
    expect((await api.post('/api/echo', again)).status).toBe(200)
  })

  test('regression: a Node stream body was re-sent as 0 bytes (the caller got 200); now it rejects with BODY_NOT_REPLAYABLE', async () => {
    const chunks = ['one;', 'two;', 'three']
    const error = await within(5_000, rejection(api.post('/api/echo', Readable.from(chunks.map((c) => Buffer.from(c))), { headers: { 'Content-Type': 'text/plain' } })))
    expect((error as AuthError).code).toBe('BODY_NOT_REPLAYABLE')
    expect(server.requests('/api/echo').map((entry) => [entry.status, entry.body.toString()])).toEqual([[401, 'one;two;three']])
    expect(server.stats.refreshCalls).toBe(1)
  })

  test('the global FormData (spec) is replayed, with a new multipart stream per attempt', async () => {
    const form = new FormData()
    form.append('name', 'alice')
    expect((await api.post('/api/echo', form)).status).toBe(200)
    expect(server.requests('/api/echo').map((entry) => entry.status)).toEqual([401, 200])
  })
})
