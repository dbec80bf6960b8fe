/** The reason an aborted signal rejects with, as fetch does (an `AbortError`). */
export const abortReason = (signal: AbortSignal): unknown =>
  // React Native's AbortController may not set `reason`.
  signal.reason ?? Object.assign(new Error('Aborted'), { name: 'AbortError' })

/** Settles with `promise`, or rejects at once when `signal` aborts; `promise` goes on for others. */
export function withSignal<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(abortReason(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** A timer that does not keep Node alive; returns its cancel function. */
export function unrefTimer(callback: () => void, ms: number): () => void {
  const timer = setTimeout(callback, ms) as unknown as { unref?: () => void }
  timer.unref?.()
  return () => clearTimeout(timer as unknown as ReturnType<typeof setTimeout>)
}
