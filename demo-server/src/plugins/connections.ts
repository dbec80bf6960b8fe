import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { addressKey } from '../client-address.ts'

/**
 * Caps the connections one address (see {@link addressKey}) may hold open at
 * once. A connection over the cap is destroyed as it is accepted, before a
 * byte is read: stalled or idle sockets from one client cannot use up the
 * process's file descriptors and shut everyone else out. The header, request
 * and idle timeouts (server options) make each such socket short-lived; the
 * cap bounds how many there can be meanwhile.
 *
 * Behind a proxy every connection comes from the proxy's address: raise the
 * cap there (or set 0) and let the proxy limit per client.
 */
async function connections(app: FastifyInstance): Promise<void> {
  const max = app.settings.maxConnectionsPerAddress
  if (max === 0) return
  const open = new Map<string, { count: number; warned: boolean }>()

  app.server.on('connection', (socket: Socket) => {
    const key = addressKey(socket.remoteAddress)
    const entry = open.get(key) ?? { count: 0, warned: false }
    if (entry.count >= max) {
      // Log once per burst, not once per refused socket.
      if (!entry.warned) app.log.warn({ address: key, open: entry.count }, 'connections refused: too many open connections from one address')
      entry.warned = true
      open.set(key, entry)
      socket.destroy()
      return
    }
    entry.count++
    open.set(key, entry)
    socket.once('close', () => {
      entry.count--
      if (entry.count < max) entry.warned = false
      if (entry.count === 0) open.delete(key)
    })
  })
}

export default fp(connections, { name: 'connections', dependencies: ['services'] })
