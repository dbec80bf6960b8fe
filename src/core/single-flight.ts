import type { AuthError } from './errors.js'
import type { Session } from './session.js'

/** How a flight ended: with new tokens, with a failure, overtaken by a login or sign-out, or by `dispose()`. */
export type FlightEnd = 'done' | 'failed' | 'superseded' | 'disposed'

/** One refresh, shared by every caller while it is in flight (DESIGN 1). */
export interface Flight {
  /** The session it refreshes; `null` when there is none (cookie mode, start-up). */
  readonly from: Session | null
  /** Resolves when the flight ends: with its error if it failed, else `undefined`. Never rejects. */
  readonly done: Promise<AuthError | undefined>
  /** How it ended; undefined while in flight. */
  readonly endedBy: FlightEnd | undefined
  /** The attempt calling the refresh function now: aborted when a login or sign-out overtakes the flight. */
  attempt: AbortController | undefined
  /** Runs `stop` when the flight ends (a backoff wait, a lock wait), or at once if it has ended. */
  onEnd(stop: () => void): void
}

/**
 * Holds the one flight in flight. Following jose's `remote.ts`: the pending
 * flight is shared, and cleared in exactly one place, {@link end}, only if it
 * is still the current one; a late settle of an older flight changes nothing.
 */
interface Running extends Flight {
  endedBy: FlightEnd | undefined
  settle(error: AuthError | undefined): void
  stops: (() => void)[]
}

export function createSingleFlight() {
  let current: Running | undefined

  return {
    /** The flight in flight, if any. */
    get current(): Flight | undefined {
      return current
    },

    /** Starts a flight; there must be none in flight. */
    start(from: Session | null): Flight {
      let settle!: (error: AuthError | undefined) => void
      const done = new Promise<AuthError | undefined>((resolve) => (settle = resolve))
      const flight: Running = {
        from,
        done,
        endedBy: undefined,
        attempt: undefined,
        settle,
        stops: [],
        onEnd(stop: () => void) {
          if (flight.endedBy) stop()
          else flight.stops.push(stop)
        },
      }
      current = flight
      return flight
    },

    /** Ends `flight` if it is still the current one; returns whether it was. */
    end(flight: Flight, how: FlightEnd, error?: AuthError): boolean {
      const running = current
      if (running === undefined || running !== flight) return false
      current = undefined
      running.endedBy = how
      for (const stop of running.stops) stop()
      running.settle(error)
      return true
    },
  }
}
