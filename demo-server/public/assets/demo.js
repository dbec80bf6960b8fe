// The demo page: the SDK's own ESM build, served by this server from dist/.
import { createTokenManager, refreshTokenGrant, webStorage } from '/sdk/index.js'
import { createAuthFetch } from '/sdk/fetch.js'
import { crossTab } from '/sdk/cross-tab.js'

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
const grant = refreshTokenGrant({ url: '/auth/token' })
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

/** An authFetch whose every attempt is logged: the first as a request, the second as its retry. */
function tracedFetch() {
  let attempt = 0
  return createAuthFetch(manager, {
    fetch: async (input, init) => {
      const retry = attempt++ > 0
      const path = new URL(String(input), location.href).pathname
      if (retry) bump('retries')
      log(retry ? 'retry' : 'request', retry ? 'retry' : 'request', `GET ${path}`)
      logProof(input, init)
      const response = await fetch(input, init)
      if (response.status === 401) {
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
// TODO(issue 15): wire the SDK's `silent-refresh/dpop` entry here once it is merged (it is built on
// another branch): when the checkbox is on, create the manager with its key store and proofs, pass
// the DPoP-aware grant to `refreshTokenGrant`, sign in with a proof on POST /auth/login, and poll
// /demo/stats with `Authorization: DPoP` + a proof (a DPoP-bound token sent as Bearer is refused).
// Until then the checkbox stays disabled, and the timeline already shows the proof of any request
// that carries a `DPoP` header, decoded (a proof is single-use and signed for one request only).
const dpopToggle = $('dpop')
dpopToggle.checked = false
dpopToggle.disabled = true
$('dpop-note').textContent = 'needs the silent-refresh/dpop entry (not wired into this page yet)'

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
  const response = await fetch('/auth/login', {
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
  await manager.clear() // every tab, at once
  if (refreshToken) {
    await fetch('/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: refreshToken }) })
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
    const response = await fetch('/demo/stats', { headers: { authorization: `Bearer ${tokens.accessToken}` } })
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
