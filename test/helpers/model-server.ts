import type { Scheduler } from 'fast-check'
import type { RefreshFn, TokenSet } from '../../src/index.js'
import type { ModelConfig, Outcome } from './model-commands.js'

/**
 * The in-memory world of the model test: a token server with strict refresh
 * token rotation and reuse detection, a protected API, foreign origins, and a
 * clock. Every answer goes through the fast-check scheduler, so the order of
 * answers, refresh completions and user commands is generated (and shrunk).
 *
 * It records violations of the contract as it sees them instead of throwing:
 * a throw inside `fetch` would only reject one request.
 */

export const API_ORIGIN = 'https://api.test'
/**
 * Where a relative URL goes when there is no page (Node, React Native): the model's fetch
 * resolves it against this base, as an app's fetch wrapper resolves paths against its API.
 * A relative-looking URL that resolves to another host under it is foreign.
 */
export const PAGE_BASE = 'http://relative.invalid'
const PAGE_ORIGIN = new URL(PAGE_BASE).origin

interface AccessInfo {
  /** Login generation (family) this token belongs to. */
  gen: number
  issuedAt: number
  lifetimeMs: number
  revoked: boolean
  /** The refresh token rotated to mint it; null for a login. */
  parent: string | null
}

interface RefreshInfo {
  gen: number
  /** The access token issued with it. */
  access: string
  state: 'live' | 'rotated' | 'revoked'
  /** Its rotation reached the manager through a call whose signal was not aborted. */
  delivered: boolean
}

/** What the model test knows about one request or getAccessToken() call. */
export interface Call {
  id: number
  label: string
  kind: 'fetch' | 'token'
  foreign: boolean
  controller?: AbortController
  /** fetch itself rejects this URL (credentials in it), as the SDK passes it through. */
  fetchRejects: boolean
  /** The body it was made with (POST), or null (GET); every hit must carry exactly this. */
  body: string | null
  /** Login generation when it was issued. */
  genAtIssue: number
  /** Whether the user was signed out (clear(), or a terminal refresh failure) when it was issued. */
  signedOutAtIssue: boolean
  settled: number
  outcome?: string
  /** Statuses the server answered, one per hit, in order of sending ('-' until answered). */
  answers: string[]
  /** The login generation (session) of the token each hit carried; null for none. */
  sessions: (number | null)[]
}

export class ModelWorld {
  clock = 1_700_000_000_000
  gen = 0
  /** From the model, not the manager: set by clear() and by a delivered invalid_grant; reset by login. */
  signedOut = false
  readonly violations: string[] = []
  readonly calls: Call[] = []
  readonly outcomes: Outcome[] = []
  /** Refresh calls the manager still waits for (entered, not settled, signal not aborted). */
  activeRefreshes = 0
  refreshCalls = 0
  reuseDetected = 0
  /** What happened, so the test can show the generated runs reach the interesting cases. */
  readonly seen = new Map<string, number>()

  private readonly access = new Map<string, AccessInfo>()
  private readonly refreshTokens = new Map<string, RefreshInfo>()
  /**
   * `token@epoch` of every 401: a request sent with `token` after the `epoch`-th
   * delivered refresh of its session was refused, which justifies one refresh.
   * (With `repeat` the token string stays the same across refreshes: the epoch
   * tells a 401 of before the last refresh, which justifies nothing, from one after.)
   */
  private readonly refused = new Set<string>()
  /** Delivered refreshes per login generation. */
  private readonly epochs = new Map<number, number>()
  private epoch = (gen: number) => this.epochs.get(gen) ?? 0
  /** The session the manager announced last ('tokens' / 'signedOut' events). */
  private announced: { access: string; refresh: string | null } | null = null
  private serial = 0
  /** Called right after an answer is delivered (see the `race` command). */
  afterAnswer: (on: 'refresh' | 'api') => void = () => {}

  constructor(
    private readonly s: Scheduler,
    private readonly config: ModelConfig,
  ) {}

  count(what: string): void {
    this.seen.set(what, (this.seen.get(what) ?? 0) + 1)
  }

  violation(message: string): void {
    this.violations.push(message)
  }

  private mint(gen: number, parent: string | null): TokenSet {
    const n = ++this.serial
    const accessToken = `A${gen}.${n}`
    const refreshToken = `R${gen}.${n}`
    this.access.set(accessToken, { gen, issuedAt: this.clock, lifetimeMs: this.config.lifetimeS * 1000, revoked: false, parent })
    this.refreshTokens.set(refreshToken, { gen, access: accessToken, state: 'live', delivered: false })
    return this.config.expiresIn ? { accessToken, refreshToken, expiresIn: this.config.lifetimeS } : { accessToken, refreshToken }
  }

  /** A new login: a fresh token family. The caller passes the result to setTokens(). */
  login(): TokenSet {
    this.signedOut = false
    return this.mint(++this.gen, null)
  }

  expireAll(): void {
    for (const info of this.access.values()) info.revoked = true
  }

  // ---- what the manager announces -------------------------------------------------------------

  onTokens(tokens: TokenSet): void {
    const info = this.access.get(tokens.accessToken)
    if (!info) {
      this.violation(`'tokens' event with a token the server never issued: ${tokens.accessToken}`)
      return
    }
    // (A `repeat` answer announces the session's own token again: that replaces nothing else.)
    const repeated = this.announced?.access === tokens.accessToken
    if (info.parent !== null && this.announced?.refresh !== info.parent && !repeated) {
      // A refresh result must replace the session it refreshed. Anything else
      // undoes a clear() or a terminal sign-out, or overwrites a newer login.
      this.violation(
        `refresh result ${tokens.accessToken} (from ${info.parent}) applied over ` +
          (this.announced ? `session ${this.announced.access}` : 'a signed-out manager (clear() or terminal failure undone)'),
      )
    }
    this.announced = { access: tokens.accessToken, refresh: tokens.refreshToken ?? null }
  }

  onSignedOut(): void {
    this.announced = null
  }

  // ---- the refresh function given to createTokenManager ----------------------------------------

  readonly refresh: RefreshFn = ({ refreshToken, signal }) => {
    const id = ++this.refreshCalls
    const outcome = this.outcomes.shift() ?? 'ok'
    this.checkRefreshEntry(refreshToken)
    this.activeRefreshes++
    return new Promise<TokenSet>((resolve, reject) => {
      let left = false
      const leave = () => {
        if (left) return false
        left = true
        this.activeRefreshes--
        return true
      }
      signal.addEventListener(
        'abort',
        () => {
          if (leave()) this.count(signal.reason instanceof Error && signal.reason.name === 'RefreshFailedError' ? 'refresh timed out' : 'refresh superseded')
          if (this.config.honorsAbort) reject(signal.reason)
        },
        { once: true },
      )
      if (outcome === 'hang') return // only the manager's timeout (or a supersede) ends it
      void this.s.schedule(Promise.resolve(), `refresh#${id} ${refreshToken} → ${outcome}`).then(() => {
        // Honouring the signal, an aborted refresh is cancelled before the server commits.
        if (signal.aborted && this.config.honorsAbort) return
        const answer = this.answerRefresh(refreshToken, outcome)
        if (!leave()) return // aborted: the answer is lost
        this.count(`refresh answered ${'tokens' in answer ? 200 : answer.status}`)
        if ('tokens' in answer) {
          const info = this.refreshTokens.get(refreshToken ?? '')
          if (info && info.state === 'rotated') info.delivered = true
          if (info) this.epochs.set(info.gen, this.epoch(info.gen) + 1)
          resolve(answer.tokens)
        } else {
          if (answer.status === 400) this.signedOut = true // terminal: the manager must sign out
          reject(answer.error)
        }
        this.afterAnswer('refresh')
      })
    })
  }

  private checkRefreshEntry(refreshToken: string | null): void {
    if (this.activeRefreshes > 0) this.violation(`refresh presenting ${refreshToken} entered while another refresh is in flight`)
    if (refreshToken === null) {
      this.violation('refresh called without a refresh token (signed out: nothing should refresh)')
      return
    }
    if (this.announced?.refresh !== refreshToken) {
      this.violation(`refresh presents ${refreshToken}, not the current session's (${this.announced?.refresh ?? 'signed out'})`)
    }
    const info = this.refreshTokens.get(refreshToken)
    if (!info) {
      this.violation(`refresh presents an unknown refresh token ${refreshToken}`)
      return
    }
    if (info.delivered) this.violation(`refresh presents ${refreshToken} again after its rotation was delivered`)
    // One refresh per stale token: a refresh must be due (proactive window) or follow a 401 for
    // the access token it replaces. The server-side due time is a lower bound of the client's
    // (the client measures from receipt, never before issue), so this never flags a due refresh.
    const access = this.access.get(info.access)
    if (access && !this.refused.has(`${info.access}@${this.epoch(info.gen)}`)) {
      // Without expiresIn the client cannot know expiry: only a 401 justifies a refresh.
      const dueAt = !this.config.expiresIn
        ? Infinity
        : access.issuedAt + access.lifetimeMs - Math.min(this.config.windowMs, access.lifetimeMs / 2)
      if (this.clock < dueAt) {
        this.violation(`refresh of ${info.access} is neither due (${dueAt - this.clock} ms early) nor after a 401 for it since its last refresh`)
      }
    }
  }

  private answerRefresh(refreshToken: string | null, outcome: Outcome): { tokens: TokenSet } | { status: number; error: Error } {
    const fail = (status: number, code: string) =>
      ({ status, error: Object.assign(new Error(`token endpoint answered ${status}`), { status, error: code }) }) as const
    const info = this.refreshTokens.get(refreshToken ?? '')
    if (!info || info.state === 'revoked') return fail(400, 'invalid_grant')
    if (info.state === 'rotated') {
      // Reuse detection (RFC 9700 §4.14.2): the whole family is revoked.
      this.reuseDetected++
      this.count('reuse detected')
      if (this.config.honorsAbort) this.violation(`server saw reuse of rotated refresh token ${refreshToken}`)
      for (const r of this.refreshTokens.values()) if (r.gen === info.gen) r.state = 'revoked'
      return fail(400, 'invalid_grant')
    }
    if (outcome === '503') return fail(503, 'temporarily_unavailable')
    if (outcome === 'repeat') {
      this.count('refresh repeated its token')
      return { tokens: this.config.expiresIn ? { accessToken: info.access, refreshToken: refreshToken!, expiresIn: this.config.lifetimeS } : { accessToken: info.access, refreshToken: refreshToken! } }
    }
    if (outcome === 'invalid_grant') {
      info.state = 'revoked'
      return fail(400, 'invalid_grant')
    }
    info.state = 'rotated'
    return { tokens: this.mint(info.gen, refreshToken) }
  }

  // ---- the fetch given to createAuthFetch --------------------------------------------------------

  readonly fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input instanceof URL ? input.href : String(input)
    const parsed = new URL(url, PAGE_BASE)
    const call = this.calls[Number(/\/r\/(\d+)$/.exec(parsed.pathname)?.[1] ?? -1)]
    if (!call) {
      this.violation(`request to an unexpected URL ${url}`)
      return Promise.reject(new TypeError('unexpected URL'))
    }
    // The token check comes first: a header handed to fetch has left the SDK, whatever fetch does next.
    const ours = parsed.origin === API_ORIGIN || parsed.origin === PAGE_ORIGIN
    const auth = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get('authorization')
    if (!ours && auth !== null) this.violation(`token sent to foreign origin ${parsed.origin} (${call.label})`)
    // As fetch does, build the Request: a used Request, a body already read, a URL with credentials fail here.
    let request: Request
    try {
      request = new Request(input instanceof Request ? input : parsed, init)
    } catch (error) {
      if (!call.fetchRejects) this.violation(`${call.label}: fetch would reject what the SDK sent: ${String(error)}`)
      return Promise.reject(error)
    }
    if (request.headers.get('authorization') !== auth) this.violation(`${call.label}: Authorization of the Request and of init disagree`)
    const signal = request.signal
    const hit = call.answers.length
    if (hit === 1) this.count('request retried')
    if (!ours) this.count('foreign request')
    if (hit >= 2) this.violation(`${call.label} sent a ${hit + 1}th time (retried more than once)`)
    if (hit === 1 && (call.foreign || call.answers[0] !== '401')) this.violation(`${call.label} retried after a ${call.answers[0]} answer`)
    const token = auth?.replace(/^Bearer /, '') ?? null
    if (token !== null && ours) this.checkTokenFor(call, token, 'sent')
    // Invariant 7: no request crosses sessions. Every hit of a call carries a token of the session
    // it was issued under (or none); a retry never carries another session's.
    const session = token !== null && ours ? (this.access.get(token)?.gen ?? null) : null
    if (hit === 1 && session !== call.sessions[0] && session !== null) {
      this.violation(`${call.label} was sent under session ${call.sessions[0] ?? 'none'} and retried under session ${session}`)
    }
    call.sessions.push(session)
    const epoch = session === null ? 0 : this.epoch(session)
    call.answers.push('-')

    if (signal.aborted) return Promise.reject(signal.reason)
    const body = request.body ? request.text() : Promise.resolve(null)
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.s.schedule(body, `answer ${call.label} hit ${hit + 1}`).then(
        (text) => {
          if (signal.aborted) return
          signal.removeEventListener('abort', onAbort)
          if (text !== call.body) this.violation(`${call.label} hit ${hit + 1} arrived with body ${JSON.stringify(text)}, not ${JSON.stringify(call.body)}`)
          const status = ours ? this.answerApi(token, epoch) : 401 // a foreign 401 must not make anyone refresh
          call.answers[hit] = String(status)
          resolve(new Response(null, { status }))
          if (ours) this.afterAnswer('api')
        },
        (error: unknown) => {
          this.violation(`${call.label} hit ${hit + 1}: its body could not be read (${String(error)})`)
          reject(error)
        },
      )
    })
  }

  private answerApi(token: string | null, epoch: number): number {
    if (token === null) return 401
    const info = this.access.get(token)
    if (info && !info.revoked && this.clock < info.issuedAt + info.lifetimeMs) return 200
    this.refused.add(`${token}@${epoch}`)
    this.count('401 for a stale token')
    return 401
  }

  /** A token handed out for `call` (sent, or returned by getAccessToken) must be from a live session as of issue. */
  checkTokenFor(call: Call, token: string, how: string): void {
    const info = this.access.get(token)
    if (!info) {
      this.violation(`${call.label} ${how} unknown token ${token}`)
      return
    }
    if (info.gen < call.genAtIssue) this.violation(`${call.label} ${how} ${token}, from a session replaced by login #${call.genAtIssue} before it was issued`)
    // Invariant 7: nor one of a later session: a call waiting while another user signed in is not theirs.
    if (info.gen > call.genAtIssue) this.violation(`${call.label} ${how} ${token} of login #${info.gen}, though it was issued under login #${call.genAtIssue}`)
    if (call.signedOutAtIssue && info.gen <= call.genAtIssue) this.violation(`${call.label} ${how} ${token} though it was issued while signed out`)
  }
}
