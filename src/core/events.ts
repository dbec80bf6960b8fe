import type { TokenManagerEvents } from './types.js'

type Events = TokenManagerEvents
type Listener<E extends keyof Events> = (payload: Events[E]) => void

const EVENT_NAMES: readonly (keyof Events)[] = ['tokens', 'refresh', 'refreshFailed', 'signedOut', 'unauthorized', 'state', 'error']

/**
 * The manager's listeners. A listener that throws becomes an `error` event
 * (source `listener`) and never breaks the flow that emitted. Listeners run
 * synchronously: whatever they do to the manager (clear, setTokens, dispose)
 * has happened when `emit` returns, and the manager re-checks its state after
 * every emit.
 */
export function createEmitter() {
  // Copy on write: an emit never sees the list change under it.
  let listeners: { event: keyof Events; listener: Listener<never> }[] = []

  const emit = <E extends keyof Events>(event: E, payload: Events[E]): void => {
    for (const entry of listeners) {
      if (entry.event !== event) continue
      try {
        ;(entry.listener as Listener<E>)(payload)
      } catch (error) {
        if (event !== 'error') emit('error', { error, source: 'listener' })
      }
    }
  }

  const on = <E extends keyof Events>(event: E, listener: Listener<E>): (() => void) => {
    if (!EVENT_NAMES.includes(event) || typeof listener !== 'function') {
      throw new TypeError(`on(): "event" must be one of ${EVENT_NAMES.join(', ')}, and "listener" a function`)
    }
    const entry = { event, listener: listener as Listener<never> }
    listeners = [...listeners, entry]
    return () => {
      listeners = listeners.filter((e) => e !== entry)
    }
  }

  const clear = () => {
    listeners = []
  }

  return { emit, on, clear }
}
