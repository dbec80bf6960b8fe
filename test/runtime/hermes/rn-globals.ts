// What React Native 0.73's Libraries/Core/setUpXHR.js puts on the global object,
// from the same sources, for the code under test in Hermes: URL and URLSearchParams
// from RN's Libraries/Blob/URL.js (verbatim in ../react-native/0.73.11/), and
// AbortController and AbortSignal from the abort-controller package, required by
// the path RN requires. fetch, Headers, Request and Response come from whatwg-fetch
// (RN's Libraries/Network/fetch.js), which the entry imports right after this
// module, so that it finds these globals as it does in RN.
import { AbortController, AbortSignal } from 'abort-controller/dist/abort-controller'
import { URL, URLSearchParams } from '../react-native/0.73.11/URL.js.flow'

Object.assign(globalThis, { URL, URLSearchParams, AbortController, AbortSignal })
