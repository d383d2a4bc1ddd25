/**
 * IP addresses as text, strictly: one canonical spelling per host, and the keys per-address rules
 * use (an IPv6 address stands for its network).
 */

/** An address in its one canonical spelling, or why the text is not an address. */
export type IpParse = { ip: string } | { error: string };

/**
 * Parses an IP address strictly into its canonical form: IPv4 as four decimal parts without
 * leading zeros (`127.0.0.07` is refused: some tools read it as octal), IPv6 per RFC 5952
 * (lower case, no leading zeros, the longest run of zero groups as `::`), and IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`) as the plain IPv4 address it is, so one host has one spelling everywhere.
 */
export function parseIp(text: string): IpParse {
  const t = text.trim();
  if (t.includes(":")) return parseIp6(t);
  if (!/^[0-9.]+$/.test(t)) return { error: "not an IP address" };
  return parseIp4(t);
}

function parseIp4(t: string): IpParse {
  const parts = t.split(".");
  if (parts.length !== 4) return { error: "an IPv4 address has four parts, like 192.0.2.7" };
  for (const p of parts) {
    if (p === "" || p.length > 3) return { error: "each IPv4 part is a number 0-255" };
    if (p.length > 1 && p[0] === "0") {
      return { error: "leading zeros are ambiguous (some tools read them as octal)" };
    }
    if (Number(p) > 255) return { error: "each IPv4 part is a number 0-255" };
  }
  return { ip: parts.join(".") };
}

function parseIp6(t: string): IpParse {
  const bad = { error: "not a valid IPv6 address" };
  if (t.includes("%")) return { error: "zone indexes (%eth0) cannot be banned" };
  if (!/^[0-9a-f:.]+$/i.test(t) || t.length > 45) return bad;
  let head = t;
  let v4: number[] | null = null;
  const lastColon = t.lastIndexOf(":");
  if (t.slice(lastColon + 1).includes(".")) {
    const four = parseIp4(t.slice(lastColon + 1));
    if ("error" in four) return bad;
    v4 = four.ip.split(".").map(Number);
    head = t.slice(0, lastColon + 1);
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return bad;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const want = v4 ? 6 : 8;
  for (const g of [...left, ...right]) if (!/^[0-9a-f]{1,4}$/i.test(g)) return bad;
  const have = left.length + right.length;
  if (halves.length === 1 ? have !== want : have > want - 1) return bad;
  const words = [
    ...left.map((g) => parseInt(g, 16)),
    ...Array(want - have).fill(0),
    ...right.map((g) => parseInt(g, 16)),
  ];
  if (v4) words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
  // IPv4-mapped: one host, one spelling.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return { ip: `${words[6] >> 8}.${words[6] & 255}.${words[7] >> 8}.${words[7] & 255}` };
  }
  return { ip: formatIp6(words) };
}

/** RFC 5952 text for eight 16-bit words. */
function formatIp6(words: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** IPv6 prefix length per-address rules key on by default (--ipv6-prefix): one /64, one site. */
export const IPV6_PREFIX = 64;

/** The eight 16-bit words of a canonical IPv6 address (as {@link parseIp} writes it). */
function words6(ip: string): number[] {
  const halves = ip.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key every per-address rule uses for the canonical address `ip` (connections per address,
 * connect rate, strikes, bans): an IPv4 address is its own key; an IPv6 address stands for its
 * network of the first `v6Prefix` bits, written `2001:db8:1:2::/64` (at 128, the address itself),
 * since anyone with a /64 (most IPv6 users) holds every address in it.
 */
export function ipKey(ip: string, v6Prefix = IPV6_PREFIX): string {
  if (!ip.includes(":") || ip.includes("/")) return ip; // IPv4, or a key already
  const p = parseIp(ip);
  if (!("ip" in p)) return ip;
  if (!p.ip.includes(":") || v6Prefix >= 128) return p.ip;
  const w = words6(p.ip);
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, v6Prefix - 16 * i));
    w[i] &= keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
  }
  return `${formatIp6(w)}/${v6Prefix}`;
}

/**
 * A ban key as stored (a ban file, Redis): an address, or an IPv6 network `ADDR/N` (N 1-128,
 * whatever --ipv6-prefix was when it was stored), in canonical form.
 */
export function parseKey(text: string): IpParse {
  const slash = text.indexOf("/");
  if (slash < 0) return parseIp(text);
  const p = parseIp(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if ("error" in p || !p.ip.includes(":") || !/^[1-9]\d{0,2}$/.test(bits) || Number(bits) > 128) {
    return { error: "not an address or an IPv6 network" };
  }
  return { ip: ipKey(p.ip, Number(bits)) };
}

/**
 * A stored ban key (see {@link parseKey}) as this server keys bans now: a network stored under
 * another prefix length is taken at `v6Prefix` from its first address.
 */
export function rekey(key: string, v6Prefix = IPV6_PREFIX): IpParse {
  const p = parseKey(key);
  if ("error" in p) return p;
  return { ip: ipKey(p.ip.replace(/\/\d+$/, ""), v6Prefix) };
}

/**
 * What an operator typed as an address to ban or unban, as the key bans are kept under (see
 * {@link ipKey}): an address, or an IPv6 network written with the prefix length in use.
 */
export function parseBanTarget(text: string, v6Prefix = IPV6_PREFIX): IpParse {
  const t = text.trim();
  const slash = t.indexOf("/");
  if (slash < 0) {
    const p = parseIp(t);
    return "ip" in p ? { ip: ipKey(p.ip, v6Prefix) } : p;
  }
  const p = parseIp(t.slice(0, slash));
  if ("error" in p) return p;
  if (!p.ip.includes(":") || t.slice(slash + 1) !== String(v6Prefix) || v6Prefix >= 128) {
    return {
      error: v6Prefix >= 128
        ? "write the address alone"
        : `an address, or an IPv6 network written with /${v6Prefix} (--ipv6-prefix)`,
    };
  }
  return { ip: ipKey(p.ip, v6Prefix) };
}

/** Dotted IPv4 with no leading zeros and parts of at most 255. */
const CANONICAL_IP4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * The canonical spelling of a connection's address (as {@link parseIp}); anything the parser
 * does not know is kept as it came, in lower case.
 */
export function normalizeIp(ip: string): string {
  // The common case, what Deno reports for an IPv4 peer, is already canonical.
  if (CANONICAL_IP4.test(ip)) return ip;
  const p = parseIp(ip);
  return "ip" in p ? p.ip : ip.toLowerCase();
}
