// Types for React Native's own Flow files (../react-native/*/*.js.flow) as the Hermes test imports them.
declare module '*/queueMicrotask.js.flow' {
  export default function queueMicrotask(callback: () => void): void
}
declare module '*/URL.js.flow' {
  export const URL: typeof globalThis.URL
  export const URLSearchParams: typeof globalThis.URLSearchParams
}
declare module '*/URLSearchParams.js.flow' {
  export const URLSearchParams: typeof globalThis.URLSearchParams
}
