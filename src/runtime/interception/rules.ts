/**
 * The transparent-interception rules, rendered as `iptables-restore` input for the nat table (IPv4) or
 * `ip6tables-restore` input (IPv6). One pure function, shared by the local runtime (applied in each
 * instance's network namespace) and the future Kubernetes init container, so both intercept identically.
 *
 * The layout follows Istio's istio-iptables, whose behaviour users of a sidecar mesh already know:
 *
 *   PREROUTING -p tcp → WEFT_INBOUND: excluded ports RETURN, the rest → WEFT_IN_REDIRECT (REDIRECT to the
 *     inbound port). PREROUTING REDIRECT rewrites the destination to eth0's own address, so the proxy
 *     reads the original destination with SO_ORIGINAL_DST.
 *   OUTPUT -p tcp → WEFT_OUTPUT, in order:
 *     1. the proxy talking to this instance's own non-loopback address over lo (a "hairpin": the app called
 *        a service whose endpoint is itself) → WEFT_INBOUND, so it passes the inbound side like any call;
 *     2. anyone else over lo (the app to itself, the proxy's inbound side to the app on 127.0.0.1) RETURN;
 *     3. the proxy's own traffic (owner match on its uid) RETURN — this is what stops the loop;
 *     4. 127.0.0.1 (::1) RETURN;
 *     5. excluded CIDRs RETURN; then included CIDRs (default: everything) → WEFT_REDIRECT (REDIRECT to the
 *        outbound port).
 *
 * Rule options are written in the order iptables-save prints them (-s/-d, -i/-o, -p, -m …) and with the
 * implicit `-m tcp` spelled out, so reading the rules back gives exactly these lines: apply.ts checks that.
 * REDIRECT in OUTPUT needs no route_localnet: the redirected packet is local and stays on lo.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface InterceptionOptions {
  /** The uid the proxy runs as; its traffic is never redirected (default 1337). */
  proxyUid: number;
  /** Where inbound TCP is redirected (default 15006). */
  inboundPort: number;
  /** Where outbound TCP is redirected (default 15001). */
  outboundPort: number;
  /** Inbound ports that reach the instance directly (e.g. the proxy's admin port 15000). */
  excludeInboundPorts: number[];
  /** Outbound destinations that are never redirected. */
  excludeOutboundCidrs: string[];
  /** Outbound destinations that are redirected; default: all. */
  includeOutboundCidrs?: string[];
}

export const DEFAULT_INTERCEPTION: Readonly<InterceptionOptions> = Object.freeze({
  proxyUid: 1337,
  inboundPort: 15006,
  outboundPort: 15001,
  excludeInboundPorts: [],
  excludeOutboundCidrs: [],
});

/** The chains Weft owns; nothing else in the nat table is touched. */
export const WEFT_CHAINS = ['WEFT_INBOUND', 'WEFT_IN_REDIRECT', 'WEFT_OUTPUT', 'WEFT_REDIRECT'] as const;

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new Error(`interception: invalid ${what} ${port}`);
}

/** Normalizes `cidr` (a bare address gets a host prefix) or throws; returns undefined for the other family. */
function cidrFor(family: 4 | 6, cidr: string): string | undefined {
  const [address = '', prefix, ...rest] = cidr.split('/');
  const v4 = isIPv4(address);
  if ((!v4 && !isIPv6(address)) || rest.length > 0)
    throw new Error(`interception: invalid CIDR ${JSON.stringify(cidr)}`);
  const max = v4 ? 32 : 128;
  const len = prefix === undefined ? max : Number(prefix);
  if (!/^\d+$/.test(prefix ?? String(max)) || len > max)
    throw new Error(`interception: invalid CIDR ${JSON.stringify(cidr)}`);
  if ((family === 4) !== v4) return undefined;
  return `${address}/${len}`;
}

/**
 * The nat-table rules for `family` as `iptables-restore --noflush` input (or `ip6tables-restore` for 6).
 * CIDRs of the other family are left out, so the same options render both files.
 */
export function renderInterceptionRules(options: InterceptionOptions, family: 4 | 6 = 4): string {
  const { proxyUid, inboundPort, outboundPort } = options;
  if (!Number.isInteger(proxyUid) || proxyUid < 0)
    throw new Error(`interception: invalid proxy uid ${proxyUid}`);
  checkPort('inbound port', inboundPort);
  checkPort('outbound port', outboundPort);
  for (const port of options.excludeInboundPorts) checkPort('excluded inbound port', port);
  const loopback = family === 4 ? '127.0.0.1/32' : '::1/128';
  const exclude = options.excludeOutboundCidrs.map((c) => cidrFor(family, c)).filter((c) => c !== undefined);
  const include = options.includeOutboundCidrs?.map((c) => cidrFor(family, c)).filter((c) => c !== undefined);
  const owner = `-m owner --uid-owner ${proxyUid}`;

  const lines = [
    `# Weft transparent interception (IPv${family}), for ${family === 4 ? 'iptables' : 'ip6tables'}-restore --noflush.`,
    '*nat',
    ...WEFT_CHAINS.map((chain) => `:${chain} - [0:0]`),
    `-A PREROUTING -p tcp -j WEFT_INBOUND`,
    `-A OUTPUT -p tcp -j WEFT_OUTPUT`,
    ...[...new Set(options.excludeInboundPorts)].map(
      (p) => `-A WEFT_INBOUND -p tcp -m tcp --dport ${p} -j RETURN`,
    ),
    `-A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT`,
    `-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${inboundPort}`,
    `-A WEFT_OUTPUT ! -d ${loopback} -o lo ${owner} -j WEFT_INBOUND`,
    `-A WEFT_OUTPUT -o lo -m owner ! --uid-owner ${proxyUid} -j RETURN`,
    `-A WEFT_OUTPUT ${owner} -j RETURN`,
    `-A WEFT_OUTPUT -d ${loopback} -j RETURN`,
    ...exclude.map((cidr) => `-A WEFT_OUTPUT -d ${cidr} -j RETURN`),
    ...(include === undefined
      ? ['-A WEFT_OUTPUT -j WEFT_REDIRECT']
      : include.map((cidr) => `-A WEFT_OUTPUT -d ${cidr} -j WEFT_REDIRECT`)),
    `-A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports ${outboundPort}`,
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}
