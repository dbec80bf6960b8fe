import { abortReason } from './abort.js'
import { keepAlive } from './timers.js'

/**
 * Every wait of a caller goes through here (DESIGN 6, 7, 11):
 * - it rejects at once when the caller's signal aborts (the awaited work goes on for the others);
 * - {@link rejectAll} rejects every wait at once (`dispose()`), whatever it awaits;
 * - while anyone waits, a Node process stays alive: a script never exits with a
 *   request silently lost, though every timer of the manager is unref'd.
 */
export function createWaiters() {
  const hold = keepAlive()
  const stops = new Set<(error: unknown) => void>()

  return {
    wait<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) return Promise.reject(abortReason(signal))
      return new Promise<T>((resolve, reject) => {
        let settled = false
        const finish = () => {
          settled = true
          stops.delete(stop)
          signal?.removeEventListener('abort', onAbort)
          hold.release()
        }
        const stop = (error: unknown) => {
          if (settled) return
          finish()
          reject(error)
        }
        const onAbort = () => stop(abortReason(signal!))
        hold.acquire()
        stops.add(stop)
        signal?.addEventListener('abort', onAbort)
        promise.then((value) => {
          if (settled) return
          finish()
          resolve(value)
        }, stop)
      })
    },

    rejectAll(error: unknown): void {
      for (const stop of [...stops]) stop(error)
    },
  }
}
