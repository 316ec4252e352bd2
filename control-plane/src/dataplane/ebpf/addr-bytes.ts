// An address of the map content as the loader wants it: 4 bytes for IPv4, 16
// for IPv6. The length is the family: the loader writes a 16-byte address to
// the IPv6 twin of the map (sy_services6, sy_backends6, ...).
import { ipv4ToBytes } from '../../util/ipv4.js';
import { mustParseIP } from '../../util/ip.js';

export function addrBytes(addr: string): Uint8Array {
  // IPv4 first and as before (most entries, and byte-identical ops).
  return addr.includes(':') ? mustParseIP(addr).bytes : ipv4ToBytes(addr);
}
