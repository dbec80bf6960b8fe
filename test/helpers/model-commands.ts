import fc from 'fast-check'

/**
 * Commands of the property-based model test (test/core/model.test.ts). Each
 * is one thing a user, the network or the server does; the fast-check
 * scheduler decides how they interleave with server answers.
 */

/** Where a request goes. `api*` and `relative*` may carry the token; every `foreign*` must not. */
export const targets = {
  api: 'https://api.test/r/',
  'api-explicit-port': 'https://API.test:443/r/', // same origin, spelled differently
  relative: '/r/',
  'relative-bare': 'r/',
  foreign: 'https://evil.test/r/',
  'foreign-suffix': 'https://api.test.evil.test/r/',
  'foreign-userinfo': 'https://api.test@evil.test/r/',
  'foreign-scheme': 'http://api.test/r/',
  'foreign-port': 'https://api.test:8443/r/',
  'foreign-protocol-relative': '//evil.test/r/',
  // Relative-looking, yet the URL parser sends them to evil.test: it drops tabs and newlines
  // anywhere, strips leading spaces, and reads "\\" as "/" in http(s) URLs.
  'foreign-tab-slashes': '/\t/evil.test/r/',
  'foreign-backslashes': '\\\\evil.test/r/',
  'foreign-space-slashes': ' //evil.test/r/',
} as const
export type Target = keyof typeof targets

/**
 * What the token server does with the next refresh it is asked for (default: ok).
 * `repeat`: answers with the same access and refresh token again (a server that does not really rotate).
 */
export type Outcome = 'ok' | 'invalid_grant' | '503' | 'hang' | 'repeat'

export type Command =
  /**
   * One request through the auth fetch; `signal` gives it an AbortController, `asRequest` passes
   * a `Request` (absolute URLs only: Node has no page to resolve a relative one), `body` makes it
   * a POST with a text body.
   */
  | { kind: 'request'; target: Target; signal: boolean; asRequest: boolean; body: boolean }
  /** `count` requests to the API at once: a burst of 401s after an expiry. */
  | { kind: 'burst'; count: number }
  /** `manager.getAccessToken()` called directly, as an app does. */
  | { kind: 'getToken'; signal: boolean }
  /** Aborts the `pick`-th (mod n) request still abortable. */
  | { kind: 'abort'; pick: number }
  /** The server revokes every access token issued so far (401 for all of them). */
  | { kind: 'expire' }
  /** Queues the outcome of a coming refresh. */
  | { kind: 'outcome'; outcome: Outcome }
  /** A new login: the server issues a fresh token family, `setTokens()`. */
  | { kind: 'login' }
  /** `clear()`: local sign-out. */
  | { kind: 'clear' }
  /** The clock (manager `now`, server, timers) jumps forward. */
  | { kind: 'jump'; ms: number }
  /**
   * Arms `action` to run `ticks` microtasks after the next answer of kind `on` is delivered.
   * The scheduler lets each released task settle (its microtasks) before the next one, so
   * this is how the model reaches a login or sign-out landing *inside* the manager's handling
   * of a refresh result (between the refresh function resolving and the result being applied).
   */
  | { kind: 'race'; on: 'refresh' | 'api'; ticks: number; then: RaceAction }

/** What a `race` command can run inside another answer's handling. */
export type RaceAction = Extract<Command, { kind: 'login' | 'clear' | 'expire' | 'jump' | 'abort' | 'request' | 'getToken' }>

/** Per-run settings. */
export interface ModelConfig {
  /** `retry.attempts`. */
  attempts: 0 | 1
  /** Access token lifetime (`expiresIn`), seconds. */
  lifetimeS: number
  /** Whether tokens carry `expiresIn`; without it expiry is unknown and refresh is reactive only (opaque tokens). */
  expiresIn: boolean
  /** `refreshBeforeExpiryMs`. */
  windowMs: number
  /**
   * Whether the refresh function honours its AbortSignal (as `fetch` does):
   * an aborted refresh never reaches the server. When false the request goes
   * on regardless, as a refresh function that ignores the signal does.
   */
  honorsAbort: boolean
  /**
   * The storage: none (memory), one that answers at once, one that answers a
   * little later, or one whose writes never answer (a hung Keychain).
   */
  storage: 'none' | 'sync' | 'async' | 'hanging'
}

export const REFRESH_TIMEOUT_MS = 5_000
export const STORAGE_TIMEOUT_MS = 2_000

const targetArb = fc.oneof(
  { arbitrary: fc.constantFrom<Target>('api', 'relative'), weight: 6 },
  { arbitrary: fc.constantFrom<Target>('api-explicit-port', 'relative-bare'), weight: 1 },
  {
    arbitrary: fc.constantFrom<Target>(
      'foreign',
      'foreign-suffix',
      'foreign-userinfo',
      'foreign-scheme',
      'foreign-port',
      'foreign-protocol-relative',
      'foreign-tab-slashes',
      'foreign-backslashes',
      'foreign-space-slashes',
    ),
    weight: 3,
  },
)

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('request'),
      target: targetArb,
      signal: fc.boolean(),
      asRequest: fc.boolean(),
      body: fc.boolean(),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ kind: fc.constant('burst'), count: fc.integer({ min: 2, max: 5 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('getToken'), signal: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('abort'), pick: fc.nat({ max: 20 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('expire') }), weight: 3 },
  {
    arbitrary: fc.record({ kind: fc.constant('outcome'), outcome: fc.constantFrom<Outcome>('ok', 'invalid_grant', '503', 'hang', 'repeat') }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('login') }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('race'),
      on: fc.oneof({ arbitrary: fc.constant('refresh'), weight: 3 }, { arbitrary: fc.constant('api'), weight: 1 }),
      ticks: fc.nat({ max: 8 }),
      then: fc.oneof(
        { arbitrary: fc.constantFrom<RaceAction>({ kind: 'login' }, { kind: 'clear' }), weight: 4 },
        fc.constantFrom<RaceAction>({ kind: 'expire' }, { kind: 'getToken', signal: false }),
        fc.record({ kind: fc.constant('jump'), ms: fc.constantFrom(1_000, REFRESH_TIMEOUT_MS, 25_000) }),
        fc.record({ kind: fc.constant('abort'), pick: fc.nat({ max: 20 }) }),
        fc.record({
          kind: fc.constant('request'),
          target: fc.constantFrom<Target>('api', 'relative'),
          signal: fc.boolean(),
          asRequest: fc.boolean(),
          body: fc.boolean(),
        }),
      ) as fc.Arbitrary<RaceAction>,
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('clear') }), weight: 1 },
  {
    // 0 runs due timers (a retry's back-off); the rest cross the proactive window, a refresh timeout, expiry.
    arbitrary: fc.record({ kind: fc.constant('jump'), ms: fc.constantFrom(0, 1_000, REFRESH_TIMEOUT_MS, 12_000, 25_000, 61_000) }),
    weight: 3,
  },
) as fc.Arbitrary<Command>

export const configArb: fc.Arbitrary<ModelConfig> = fc.record({
  attempts: fc.constantFrom<0 | 1>(0, 1),
  lifetimeS: fc.constantFrom(20, 60),
  expiresIn: fc.boolean(),
  windowMs: fc.constantFrom(0, 10_000, 30_000),
  honorsAbort: fc.boolean(),
  storage: fc.constantFrom<ModelConfig['storage']>('none', 'sync', 'async', 'hanging'),
})

export const commandsArb = fc.array(commandArb, { minLength: 1, maxLength: 40 })

export const describeCommand = (c: Command): string => {
  switch (c.kind) {
    case 'request':
      return `${c.body ? 'POST' : 'GET'} ${c.target}${c.signal ? ' +signal' : ''}${c.asRequest ? ' as Request' : ''}`
    case 'burst':
      return `burst of ${c.count}`
    case 'getToken':
      return `getAccessToken()${c.signal ? ' +signal' : ''}`
    case 'abort':
      return `abort #${c.pick}`
    case 'outcome':
      return `next refresh: ${c.outcome}`
    case 'jump':
      return `time +${c.ms} ms`
    case 'race':
      return `${describeCommand(c.then)}, ${c.ticks} ticks after the next ${c.on} answer`
    default:
      return c.kind
  }
}
