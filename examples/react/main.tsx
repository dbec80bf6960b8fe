// The entry of the page: the provider above the app, in StrictMode.
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { SessionProvider } from 'silent-refresh/react'
import { App } from './App.js'
import { manager } from './auth.js'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider manager={manager}>
      <App />
    </SessionProvider>
  </StrictMode>,
)
