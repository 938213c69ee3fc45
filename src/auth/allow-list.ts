import { BlockList } from 'node:net';
import { AuthConfigError } from './errors.js';
import { normalizeIpAddress, type IpAddress } from './ip-address.js';

export interface AllowList {
  /** Whether the (already normalised or raw) address is on the list. Non-addresses never are. */
  allows(address: string | undefined): boolean;
}

/**
 * The source allow-list: CIDRs (`203.0.113.0/24`, `2001:db8::/32`) or single addresses. Node's
 * BlockList does the matching, used here as an allow-list. Entries are validated up front so a
 * typo fails the start-up instead of silently locking the sender out (or in).
 */
export function createAllowList(entries: readonly string[]): AllowList {
  if (!Array.isArray(entries)) throw new AuthConfigError('allowIps', 'expected a list of addresses or CIDRs');
  const list = new BlockList();
  entries.forEach((entry: unknown, index) => {
    if (typeof entry !== 'string') throw new AuthConfigError('allowIps', `entry ${index + 1} is not a string`);
    const subnet = parseAllowEntry(entry);
    if (subnet === undefined) {
      throw new AuthConfigError(
        'allowIps',
        `entry ${index + 1} ("${entry}") is not an IPv4/IPv6 address or CIDR such as 203.0.113.0/24 or 2001:db8::/32`,
      );
    }
    list.addSubnet(subnet.address, subnet.prefix, subnet.family);
  });
  return {
    allows(address) {
      if (address === undefined) return false;
      const ip = normalizeIpAddress(address);
      return ip !== undefined && list.check(ip.address, ip.family);
    },
  };
}

function parseAllowEntry(entry: string): (IpAddress & { prefix: number }) | undefined {
  const slash = entry.indexOf('/');
  const addressText = slash === -1 ? entry : entry.slice(0, slash);
  // A zone id means nothing on an allow-list and would be silently dropped by normalisation.
  if (addressText.includes('%')) return undefined;
  const ip = normalizeIpAddress(addressText);
  if (ip === undefined || addressText !== addressText.trim()) return undefined;
  const bits = ip.family === 'ipv4' ? 32 : 128;
  if (slash === -1) return { ...ip, prefix: bits };
  const prefixText = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  let prefix = Number(prefixText);
  // `::ffff:10.0.0.0/104` was normalised to IPv4 10.0.0.0; its prefix shrinks by the 96 mapped bits.
  const mappedV4 = ip.family === 'ipv4' && addressText.includes(':');
  if (mappedV4) {
    if (prefix < 96) return undefined;
    prefix -= 96;
  }
  return prefix <= bits ? { ...ip, prefix } : undefined;
}
