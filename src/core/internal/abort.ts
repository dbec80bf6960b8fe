/**
 * The reason a caller's aborted signal rejects with, as fetch does. React
 * Native's AbortController polyfill has no `reason` (DESIGN 12): then an
 * `AbortError`, which is what fetch rejects with there too.
 */
export const abortReason = (signal: AbortSignal): unknown =>
  signal.reason ?? Object.assign(new Error('This operation was aborted'), { name: 'AbortError' })

/**
 * Settles with `promise`, or rejects at once when the caller's `signal` aborts;
 * `promise` goes on for the others (DESIGN 7). The manager's own control flow
 * never reads `signal.reason`: it settles its promises with its own errors.
 */
export function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(abortReason(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal))
    signal.addEventListener('abort', onAbort)
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
