/**
 * Who the client is, for the rate limits: the connection's address, or behind trusted reverse
 * proxies the right-most `X-Forwarded-For` hop that is not one of them (every hop left of it was
 * written by the client itself and proves nothing). IPv6 clients count per /64, the block one
 * subscriber gets: counting each of its 2^64 addresses apart would let one client rotate through
 * them.
 *
 * @example
 * ```ts
 * const addresses = new ClientAddresses(parseCidrs("10.0.0.0/8"));
 * addresses.keyOf("10.0.0.5", "203.0.113.7, 10.0.0.9"); // "203.0.113.7"
 * addresses.keyOf("2001:db8:1:2:aa::1", null); // "2001:db8:1:2::/64"
 * ```
 *
 * @module
 */

/** An IP address as bytes: 4 for IPv4 (IPv4-mapped IPv6 included), 16 for IPv6. */
export type IpBytes = Uint8Array;

/** A CIDR block. */
export interface Cidr {
  /** The network address. */
  bytes: IpBytes;
  /** How many leading bits must match. */
  prefix: number;
}

function parseIpv4(text: string): IpBytes | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]) || Number(parts[i]) > 255) return undefined;
    out[i] = Number(parts[i]);
  }
  return out;
}

function parseIpv6(text: string): IpBytes | undefined {
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) stands for the last two groups.
  let t = text;
  let v4: IpBytes | undefined;
  const tail = t.slice(t.lastIndexOf(":") + 1);
  if (tail.includes(".")) {
    v4 = parseIpv4(tail);
    if (!v4) return undefined;
    t = `${t.slice(0, t.length - tail.length)}0:0`;
  }
  const halves = t.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const zeros = 8 - head.length - rest.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return undefined;
  const groups = [...head, ...new Array(halves.length === 2 ? zeros : 0).fill("0"), ...rest];
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const w = parseInt(g, 16);
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

/**
 * Parses an IPv4 or IPv6 address, also as proxies write them (`[::1]:443`, `1.2.3.4:80`, a zone
 * `%eth0`). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address it maps.
 *
 * @example
 * ```ts
 * parseIp("::ffff:192.0.2.1"); // Uint8Array [192, 0, 2, 1]
 * ```
 */
export function parseIp(raw: string): IpBytes | undefined {
  let text = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.indexOf(":"));
  text = text.replace(/%[\w.-]+$/, "");
  if (!text.includes(":")) return parseIpv4(text);
  const v6 = parseIpv6(text);
  if (v6 && v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) {
    return v6.slice(12);
  }
  return v6;
}

/**
 * Parses a comma-separated list of CIDR blocks (`10.0.0.0/8, ::1`); a bare address is a block of
 * one. Throws an `Error` naming the first entry that is not one.
 *
 * @example
 * ```ts
 * parseCidrs("127.0.0.1, 10.0.0.0/8, fd00::/8").length; // 3
 * ```
 */
export function parseCidrs(list: string): Cidr[] {
  const out: Cidr[] = [];
  for (const entry of list.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [addr, bits, extra] = entry.split("/");
    const bytes = extra === undefined ? parseIp(addr) : undefined;
    const max = bytes ? bytes.length * 8 : 0;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (!bytes || prefix < 0 || prefix > max) {
      throw new Error(`"${entry}" is not an IP address or CIDR block`);
    }
    out.push({ bytes, prefix });
  }
  return out;
}

function inBlock(ip: IpBytes, block: Cidr): boolean {
  if (ip.length !== block.bytes.length) return false;
  let bits = block.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i] & mask) !== (block.bytes[i] & mask)) return false;
  }
  return true;
}

/** The rate-limit key of an address: IPv4 as is, IPv6 as its /64. */
export function addressKey(ip: IpBytes): string {
  if (ip.length === 4) return ip.join(".");
  const words: string[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return `${words.join(":")}::/64`;
}

/** Resolves client addresses through the trusted proxies. */
export class ClientAddresses {
  constructor(readonly trusted: readonly Cidr[] = []) {}

  /** Whether `ip` is one of the trusted proxies. */
  isTrusted(ip: IpBytes): boolean {
    return this.trusted.some((block) => inBlock(ip, block));
  }

  /**
   * The client's rate-limit key, from the connection's address and the `X-Forwarded-For` header
   * (which counts only when the connection comes from a trusted proxy).
   */
  keyOf(remote: string | undefined, forwardedFor: string | null | undefined): string {
    const peer = remote === undefined ? undefined : parseIp(remote);
    if (!peer) return remote ?? "unknown";
    if (!forwardedFor || !this.isTrusted(peer)) return addressKey(peer);
    const hops = forwardedFor.split(",");
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseIp(hops[i]);
      // A hop a trusted proxy wrote that is no address: stop at the last one we could trust.
      if (!hop) break;
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return addressKey(client);
  }
}
