/** The longest delay `setTimeout` holds; a longer one fires after 1 ms in every runtime. */
export const MAX_DELAY_MS = 2 ** 31 - 1

/** Clamps a delay to what `setTimeout` can hold, so `Infinity` means "as long as possible", not "at once". */
export const clampDelay = (ms: number): number => Math.min(Math.max(0, ms), MAX_DELAY_MS)

type Handle = ReturnType<typeof setTimeout> & { unref?: () => void }

/**
 * A timer that does not keep Node alive on its own (DESIGN 11: idle timers are
 * unref'd); a refresh that callers wait on is kept alive by {@link keepAlive}.
 * Returns its cancel function.
 */
export function unrefTimer(callback: () => void, ms: number): () => void {
  const timer = setTimeout(callback, clampDelay(ms)) as Handle
  timer.unref?.()
  return () => clearTimeout(timer)
}

/** Resolves after `ms` on an unref'd timer, or at once when `stop` is called. */
export function delay(ms: number): { done: Promise<void>; stop(): void } {
  let stop!: () => void
  const done = new Promise<void>((resolve) => {
    const cancel = unrefTimer(resolve, ms)
    stop = () => {
      cancel()
      resolve()
    }
  })
  return { done, stop }
}

/**
 * Keeps a Node process alive while someone waits (DESIGN 11): a script whose
 * request waits for a refresh must not exit with that request silently lost,
 * whatever the refresh's own timers are. Counted: the first `acquire()` starts
 * one ref'd interval, the last `release()` stops it. Harmless in browsers.
 */
export function keepAlive(): { acquire(): void; release(): void } {
  let holders = 0
  let timer: ReturnType<typeof setInterval> | undefined
  return {
    acquire() {
      holders++
      if (holders === 1) timer = setInterval(() => {}, MAX_DELAY_MS)
    },
    release() {
      holders--
      if (holders === 0) clearInterval(timer)
    },
  }
}
