// Node 18 has no global File (scripts/probe-runtime.mjs, "global File"). The adapter
// tests build their multipart fixtures with `new File(…)`; on 18 that class comes from
// node:buffer, where an app on Node 18 takes it too. Nothing else is changed.
import { File } from 'node:buffer'

if (typeof globalThis.File === 'undefined') {
  Object.defineProperty(globalThis, 'File', { value: File, writable: true, configurable: true })
}
