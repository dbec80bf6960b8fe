import { isIPv6 } from 'node:net'

/**
 * The key under which per-address limits count a client: an IPv4 address as
 * is (also when it arrives IPv4-mapped, `::ffff:203.0.113.7`), and an IPv6
 * address by its /64 prefix, because one subscriber gets a whole /64 and could
 * otherwise take a fresh address for every request.
 *
 * @example
 * addressKey('::ffff:203.0.113.7') // '203.0.113.7'
 * addressKey('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 */
export function addressKey(ip: string | undefined): string {
  if (!ip) return 'unknown'
  const bare = ip.split('%')[0]!.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)
  if (mapped) return mapped[1]!
  if (!isIPv6(bare)) return bare
  const [head = '', tail] = bare.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`
}
