// What a Node version's fetch and web globals do that matters to the SDK: which
// headers follow a cross-origin redirect, whether an abort keeps its reason,
// which AbortSignal helpers exist, how stream bodies must be sent. Every answer
// comes from doing the thing (real sockets on 127.0.0.1), not from version numbers.
//
//   node scripts/probe-runtime.mjs                   this node's answers, as JSON
//   node scripts/probe-runtime.mjs --table NODE...   runs each given node binary, prints a markdown table
//
// Plain ESM with no dependencies, so it runs on every version it probes.
import { spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'

const has = (fn) => {
  try {
    return !!fn()
  } catch {
    return false
  }
}

/** Starts a server on 127.0.0.1 that records the headers it receives; `handler` may answer. */
async function listen(handler) {
  const seen = []
  const sockets = new Set()
  const server = createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers })
    if (!handler?.(req, res)) res.end('ok')
  })
  // Kept-alive and never-answered connections are cut on close (closeAllConnections is not in 18.0).
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () =>
    new Promise((resolve) => {
      server.close(resolve)
      for (const socket of sockets) socket.destroy()
    })
  return { seen, origin: `http://127.0.0.1:${server.address().port}`, close }
}

/**
 * Sends fetch with credentials in several headers to origin A, which answers
 * `status` with Location on origin B (another port: another origin). Returns
 * the headers that reached B.
 */
async function redirectedHeaders(status, init = {}) {
  const target = await listen()
  const source = await listen((req, res) => {
    res.writeHead(status, { location: `${target.origin}/landed` })
    res.end()
    return true
  })
  try {
    const response = await fetch(`${source.origin}/start`, {
      method: init.method ?? 'GET',
      body: init.body,
      headers: { authorization: 'Bearer secret', 'x-auth-token': 'secret', cookie: 'sid=secret', 'proxy-authorization': 'Basic secret' },
    })
    await response.arrayBuffer()
    const landed = target.seen[0]?.headers
    if (!landed) return 'not followed'
    const carried = ['authorization', 'x-auth-token', 'cookie', 'proxy-authorization'].filter((name) => name in landed)
    return carried.length ? carried.join(', ') : 'none'
  } finally {
    await source.close()
    await target.close()
  }
}

/** The same through axios's Node adapter (follow-redirects), when the repository's axios is installed. */
async function axiosRedirectedHeaders() {
  let axios
  try {
    axios = (await import('axios')).default
  } catch {
    return 'axios not installed'
  }
  const target = await listen()
  const source = await listen((req, res) => {
    res.writeHead(307, { location: `${target.origin}/landed` })
    res.end()
    return true
  })
  try {
    await axios.get(`${source.origin}/start`, { headers: { authorization: 'Bearer secret', 'x-auth-token': 'secret', cookie: 'sid=secret' } })
    const landed = target.seen[0]?.headers
    if (!landed) return 'not followed'
    const carried = ['authorization', 'x-auth-token', 'cookie'].filter((name) => name in landed)
    return carried.length ? carried.join(', ') : 'none'
  } finally {
    await source.close()
    await target.close()
  }
}

/** What fetch with `redirect: 'manual'` hands back: the real 3xx with Location (the SDK can follow it itself), or an opaque one. */
async function manualRedirect() {
  const server = await listen((req, res) => {
    res.writeHead(307, { location: '/elsewhere' })
    res.end()
    return true
  })
  try {
    const response = await fetch(`${server.origin}/`, { redirect: 'manual' })
    return `${response.type} ${response.status}${response.headers.get('location') ? ' + Location' : ''}`
  } finally {
    await server.close()
  }
}

/** How fetch rejects when its signal is aborted with a reason: with that reason, or a generic AbortError. */
async function fetchAbortRejection() {
  const server = await listen(() => true) // never answers
  const controller = new AbortController()
  const reason = Object.assign(new Error('mine'), { name: 'MyReason' })
  const pending = fetch(`${server.origin}/`, { signal: controller.signal }).catch((error) => error)
  while (!server.seen.length) await new Promise((resolve) => setTimeout(resolve, 5))
  controller.abort(reason)
  const error = await pending
  await server.close()
  return error === reason ? 'the reason' : `${error?.name}`
}

/** Whether a ReadableStream body needs `duplex: 'half'`, and whether fetch then sends it. */
async function streamBody() {
  const body = () => new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('abc')), c.close()) })
  let withoutDuplex
  try {
    new Request('http://127.0.0.1/', { method: 'POST', body: body() })
    withoutDuplex = 'accepted'
  } catch (error) {
    withoutDuplex = `${error.name}`
  }
  const server = await listen((req, res) => {
    let text = ''
    req.on('data', (chunk) => (text += chunk))
    req.on('end', () => res.end(text))
    return true
  })
  try {
    const response = await fetch(`${server.origin}/`, { method: 'POST', body: body(), duplex: 'half' })
    return `without duplex: ${withoutDuplex}; with: sent "${await response.text()}"`
  } catch (error) {
    return `without duplex: ${withoutDuplex}; with: ${error.name}`
  } finally {
    await server.close()
  }
}

/** Whether fetch takes an async iterable (a Node Readable is one) as a body, and whether a Request made of one can be cloned for a retry. */
async function iterableBody() {
  const server = await listen((req, res) => {
    let text = ''
    req.on('data', (chunk) => (text += chunk))
    req.on('end', () => res.end(text))
    return true
  })
  const body = async function* () {
    yield new TextEncoder().encode('abc')
  }
  try {
    const sent = await fetch(`${server.origin}/`, { method: 'POST', body: body(), duplex: 'half' }).then((response) => response.text(), (error) => error.name)
    let clone
    try {
      const request = new Request(`${server.origin}/`, { method: 'POST', body: body(), duplex: 'half' })
      const copies = [request.clone(), request]
      clone = (await Promise.all(copies.map((copy) => fetch(copy).then((response) => response.text())))).map((text) => `"${text}"`).join(' and ')
    } catch (error) {
      clone = error.name
    }
    return `fetch sent "${sent}"; Request.clone() sent ${clone}`
  } finally {
    await server.close()
  }
}

/** The answers of this node. */
async function probe() {
  const signalReason = (() => {
    const controller = new AbortController()
    controller.abort()
    return controller.signal.reason?.name ?? String(controller.signal.reason)
  })()
  return {
    node: process.version,
    undici: process.versions.undici ?? '?',
    'fetch: headers that follow a cross-origin 307 (POST)': await redirectedHeaders(307, { method: 'POST', body: 'x' }),
    'fetch: headers that follow a cross-origin 302 (GET)': await redirectedHeaders(302),
    'axios (follow-redirects): headers that follow a cross-origin 307': await axiosRedirectedHeaders(),
    "redirect: 'manual'": await manualRedirect(),
    'fetch aborted with a reason rejects with': await fetchAbortRejection(),
    'abort() without a reason: signal.reason': signalReason,
    'AbortSignal.timeout': has(() => typeof AbortSignal.timeout === 'function' && AbortSignal.timeout(1000)),
    'AbortSignal.any': has(() => typeof AbortSignal.any === 'function'),
    'signal.throwIfAborted': has(() => typeof AbortSignal.prototype.throwIfAborted === 'function'),
    'ReadableStream body': await streamBody(),
    'async-iterable body (duplex: half)': await iterableBody(),
    structuredClone: typeof structuredClone === 'function',
    'Headers.getSetCookie': has(() => typeof Headers.prototype.getSetCookie === 'function'),
    'global File': typeof File === 'function',
    'global CustomEvent': typeof CustomEvent === 'function',
    'globalThis.crypto (WebCrypto)': has(() => typeof globalThis.crypto.subtle.digest === 'function'),
    'URL.canParse': typeof URL.canParse === 'function',
    'Promise.withResolvers': typeof Promise.withResolvers === 'function',
    'setTimeout(...).unref': has(() => {
      const timer = setTimeout(() => {}, 1)
      clearTimeout(timer)
      return typeof timer.unref === 'function'
    }),
  }
}

if (process.argv[2] === '--table') {
  const rows = process.argv.slice(3).map((node) => {
    const run = spawnSync(node, [fileURLToPath(import.meta.url)], { encoding: 'utf8', timeout: 60_000 })
    if (run.status !== 0) throw new Error(`${node}: ${run.stderr || run.error}`)
    return JSON.parse(run.stdout)
  })
  const keys = Object.keys(rows[0])
  const cell = (value) => (value === true ? 'yes' : value === false ? '**no**' : String(value))
  console.log(`| | ${rows.map((row) => row.node).join(' | ')} |`)
  console.log(`|---|${rows.map(() => '---').join('|')}|`)
  for (const key of keys.slice(1)) console.log(`| ${key} | ${rows.map((row) => cell(row[key])).join(' | ')} |`)
} else {
  console.log(JSON.stringify(await probe(), null, 2))
}
