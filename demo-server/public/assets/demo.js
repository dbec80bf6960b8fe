// The demo page: the SDK's own ESM build, served by this server from dist/.
import { createTokenManager, refreshTokenGrant, webStorage } from '/sdk/index.js'
import { createAuthFetch } from '/sdk/fetch.js'
import { crossTab } from '/sdk/cross-tab.js'
import { dpop } from '/sdk/dpop.js'

const $ = (id) => document.getElementById(id)
const tabId = Math.random().toString(36).slice(2, 6).toUpperCase()
$('tab-id').textContent = tabId

const counts = { requests: 0, ok: 0, unauthorized: 0, retries: 0, refreshes: 0, adopted: 0 }
const bump = (name) => {
  counts[name]++
  $(`stat-${name === 'unauthorized' ? '401' : name}`).textContent = counts[name]
}

// ---- timeline: one row per kind of event; the same event again within a moment folds into "×N" ----
const timeline = $('timeline')
let recent = []
const FOLD_MS = 2_000
const clock = () => {
  const d = new Date()
  return `${d.toLocaleTimeString('en-GB')}.${String(d.getMilliseconds()).padStart(3, '0')}`
}
function log(kind, label, text) {
  const now = Date.now()
  recent = recent.filter((row) => now - row.at < FOLD_MS)
  const same = recent.find((row) => row.kind === kind && row.label === label && row.text === text)
  if (same) {
    same.n++
    same.at = now
    same.count.textContent = `×${same.n}`
    return
  }
  const li = document.createElement('li')
  li.dataset.kind = kind
  const time = document.createElement('time')
  time.textContent = clock()
  const tag = document.createElement('span')
  tag.className = `tag ${kind}`
  tag.textContent = label
  const body = document.createElement('span')
  body.textContent = text
  const count = document.createElement('span')
  count.className = 'count'
  body.append(count)
  li.append(time, tag, body)
  timeline.append(li)
  timeline.scrollTop = timeline.scrollHeight
  // A refresh or a session change starts a new phase: later requests get rows of their own.
  if (kind === 'refresh' || kind === 'session' || kind === 'tokens') recent = []
  else recent.push({ kind, label, text, n: 1, count, at: now })
}
$('clear-log').onclick = () => {
  timeline.replaceChildren()
  recent = []
}

// ---- the SDK, set up as an app would, plus tracing ----
const STORAGE_KEY = 'silent-refresh-demo'
// DPoP (RFC 9449) is chosen before signing in and kept for the tab's life: a session bound to a key
// needs that key for every request, so the choice is stored and the page reloads when it changes.
const DPOP_KEY = 'silent-refresh-demo-dpop'
const useDpop = localStorage.getItem(DPOP_KEY) === 'on'
// One key pair for every tab (IndexedDB, the crossTab key's name): the tabs share the bound refresh token.
const key = useDpop ? dpop({ key: 'demo' }) : null
const authServerFetch = key ? key.fetch : (input, init) => fetch(input, init)
const grant = refreshTokenGrant({ url: '/auth/token', fetch: authServerFetch })
let refreshedHere = null
const manager = createTokenManager({
  refresh: async (context) => {
    bump('refreshes')
    log('refresh', 'refresh', 'POST /auth/token (this tab holds the cross-tab lock)')
    try {
      const tokens = await grant(context)
      refreshedHere = tokens.accessToken
      log('refresh', 'refreshed', 'new tokens; waiting requests go on with them')
      return tokens
    } catch (error) {
      log('failed', 'refresh failed', error.message)
      throw error
    }
  },
  storage: webStorage(localStorage, STORAGE_KEY),
  crossTab: crossTab({ key: 'demo' }),
  refreshBeforeExpiryMs: 5_000,
  ...(key ? { sender: key } : {}),
})

let tokens = null
let signingIn = false
manager.on('tokens', (next) => {
  tokens = next
  showWho(next.accessToken)
  if (next.accessToken === refreshedHere) refreshedHere = null
  else if (signingIn) log('session', 'signed in', 'tokens from POST /auth/login')
  else {
    bump('adopted')
    log('tokens', 'from other tab', 'another tab refreshed or signed in: tokens taken over, no refresh here')
  }
  render()
})
manager.on('signedOut', ({ reason }) => {
  tokens = null
  log('session', 'signed out', reason === 'remote' ? 'another tab signed out' : reason === 'expired' ? 'the session ended at the server' : 'this tab signed out')
  render()
})
manager.on('refreshFailed', ({ error }) => log('failed', 'refresh failed', `${error.code}: ${error.message}`))
manager.on('error', ({ error, source }) => log('failed', `${source} error`, String(error?.message ?? error)))

/**
 * An authFetch whose every attempt is logged: the first as a request, the one after a 401 as its
 * retry. With DPoP, a 401 asking for a new nonce is answered by sending the request again with it:
 * neither a refresh nor the retry.
 */
function tracedFetch() {
  let attempt = 0
  let nonceRetry = false
  return createAuthFetch(manager, {
    fetch: async (input, init) => {
      const retry = attempt++ > 0 && !nonceRetry
      const path = new URL(String(input), location.href).pathname
      if (retry) bump('retries')
      if (nonceRetry) log('request', 'nonce', `GET ${path} again with the server's new DPoP nonce`)
      else log(retry ? 'retry' : 'request', retry ? 'retry' : 'request', `GET ${path}`)
      nonceRetry = false
      logProof(input, init)
      const response = await fetch(input, init)
      if (response.status === 401 && /use_dpop_nonce/.test(response.headers.get('www-authenticate') ?? '')) {
        nonceRetry = true
        log('request', 'DPoP nonce', `${path}: the server asks for its current nonce (401 use_dpop_nonce)`)
      } else if (response.status === 401) {
        bump('unauthorized')
        log('unauthorized', '401', retry ? `${path}: still 401 after a refresh` : `${path}: token expired → wait for the one shared refresh, retry`)
      } else if (response.ok) {
        log('ok', String(response.status), path)
      } else {
        log('failed', String(response.status), path)
      }
      return response
    },
  })
}

// ---- DPoP (RFC 9449) ----
// The timeline shows the proof of every request that carries one, decoded (a proof is single-use and
// signed for one request only). The checkbox takes effect at once, by a reload, only while signed out.
const dpopToggle = $('dpop')
dpopToggle.checked = useDpop
$('dpop-note').textContent = useDpop ? '(tokens bound to a key pair kept in this browser)' : ''
dpopToggle.onchange = () => {
  localStorage.setItem(DPOP_KEY, dpopToggle.checked ? 'on' : 'off')
  location.reload()
}

function logProof(input, init) {
  const proof = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get('dpop')
  if (!proof) return
  try {
    const [header, claims] = proof.split('.').slice(0, 2).map((part) => JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))))
    const fields = [`${claims.htm} ${claims.htu}`, `iat ${claims.iat}`, `jti ${String(claims.jti).slice(0, 8)}…`]
    if (claims.ath) fields.push(`ath ${claims.ath.slice(0, 8)}…`)
    if (claims.nonce) fields.push(`nonce ${claims.nonce.slice(0, 8)}…`)
    log('request', 'DPoP', `${header.alg} key ${header.jwk?.x?.slice(0, 8) ?? '?'}… · ${fields.join(' · ')}`)
  } catch {
    log('request', 'DPoP', `an undecodable proof (${proof.length} characters)`)
  }
}

async function burst(n, delayMs = 0) {
  const url = delayMs > 0 ? `/api/slow?delay_ms=${delayMs}` : '/api/me'
  const results = await Promise.all(
    Array.from({ length: n }, async () => {
      counts.requests++
      $('stat-requests').textContent = counts.requests
      try {
        const response = await tracedFetch()(url)
        if (response.ok) bump('ok')
        return response.status
      } catch (error) {
        log('failed', 'error', error.message)
        return 0
      }
    }),
  )
  return { ok: results.filter((s) => s === 200).length, statuses: results }
}

// ---- session ----
async function signIn(username, password) {
  // Through key.fetch with DPoP on: the login carries a proof, so the server binds the session to the key.
  const response = await authServerFetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  const body = await response.json()
  if (!response.ok) throw new Error(body.error_description ?? `Sign-in failed (${response.status})`)
  signingIn = true
  try {
    await manager.setTokens({ accessToken: body.access_token, refreshToken: body.refresh_token, expiresIn: body.expires_in })
  } finally {
    signingIn = false
  }
}

async function signOut() {
  const refreshToken = tokens?.refreshToken
  try {
    // Before clear(): a bound session is ended only with a proof of its key (a stolen refresh token alone
    // cannot sign the user out), and a sign-out of the manager forgets the key.
    if (refreshToken) {
      await authServerFetch('/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: refreshToken }) })
    }
  } finally {
    await manager.clear() // every tab, at once
  }
}

$('signin').onsubmit = async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  $('signin-error').textContent = ''
  try {
    await signIn(String(form.get('username')), String(form.get('password')))
  } catch (error) {
    $('signin-error').textContent = error.message
  }
}
$('signout').onclick = () => signOut()
$('burst').onclick = async () => {
  const button = $('burst')
  button.disabled = true
  try {
    await burst(Math.min(200, Math.max(1, Number($('burst-size').value) || 1)), Number($('burst-delay').value))
  } finally {
    button.disabled = false
  }
}
$('expire').onclick = async () => {
  const response = await createAuthFetch(manager)('/demo/expire', { method: 'POST' })
  log('session', 'expired', response.ok ? 'the server now answers 401 for the current access token' : `could not expire (${response.status})`)
}
$('fail-next').onclick = async () => {
  const mode = $('fail-mode').value
  const response = await createAuthFetch(manager)('/demo/fail-next-refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode }),
  })
  log('session', 'armed', response.ok ? `the next refresh fails (${mode === 'terminal' ? 'invalid_grant: signs out' : '503: the SDK retries'})` : `could not arm (${response.status})`)
}

// ---- live view ----
function render() {
  const signedIn = tokens !== null
  $('signin-card').hidden = signedIn
  $('session-card').hidden = !signedIn
  if (!signedIn) return
  $('token-id').textContent = `…${tokens.accessToken.slice(-8)}`
  const left = (tokens.expiresAt ?? 0) - Date.now()
  const lifetime = (tokens.expiresIn ?? 30) * 1000
  const bar = $('life-bar')
  bar.style.width = `${Math.max(0, Math.min(100, (left / lifetime) * 100))}%`
  bar.className = left <= 0 ? 'out' : left < 5_000 ? 'low' : ''
  $('life-text').textContent = left > 0 ? `${(left / 1000).toFixed(1)} s left` : `expired ${(-left / 1000).toFixed(0)} s ago`
}
setInterval(render, 200)

// What the server answered this session's refreshes (every tab shares the session). A plain fetch with the
// current token, not the SDK's: a poll must not join, or start, a refresh.
async function pollServer() {
  if (!tokens) return
  try {
    const url = new URL('/demo/stats', location.href).href
    const headers = key
      ? { authorization: `DPoP ${tokens.accessToken}`, dpop: await key.proof('GET', url, tokens.accessToken) }
      : { authorization: `Bearer ${tokens.accessToken}` }
    const response = await fetch(url, { headers })
    // A new nonce is remembered for the next poll.
    key?.answered(url, response)
    if (response.ok) $('stat-server').textContent = (await response.json()).refreshes
  } catch {
    // the server is restarting: try again on the next tick
  }
}
setInterval(pollServer, 1000)
void pollServer()

function showWho(token) {
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
    $('who').textContent = `user ${claims.sub.slice(0, 8)}…`
  } catch {
    $('who').textContent = ''
  }
}

// A reload keeps the session (localStorage).
manager.getAccessToken().then(
  (token) => {
    if (token && !tokens) tokens = JSON.parse(localStorage.getItem(STORAGE_KEY))
    if (token) showWho(token)
    render()
  },
  () => render(),
)
log('session', 'tab ' + tabId, 'ready')

/** For the browser tests and the curious: `demo.burst(50)` in the console. */
window.demo = {
  manager,
  burst,
  signIn,
  signOut,
  tabId,
  get signedIn() {
    return tokens !== null
  },
  get accessToken() {
    return tokens?.accessToken ?? null
  },
}
