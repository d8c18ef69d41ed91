/**
 * Which addresses a run uses. Every run gets its own namespaces and hub bridge, so runs never see each
 * other and all can use the same subnet: 10.77.0.0/16, with instances in 10.77.1.0–10.77.127.255 and
 * service virtual IPs (handed out by the control plane) in 10.77.128.0/17. 10.77.0.0/24 is left free for
 * the run's own infrastructure. The second octet is a parameter only so that a machine whose own networks
 * happen to use 10.77/16 can pick another; the addresses exist only inside the run's namespaces either way.
 */
import { isIPv4 } from 'node:net';

export const DEFAULT_SECOND_OCTET = 77;

export interface AddressPlan {
  /** The run's subnet, e.g. `10.77.0.0/16`. */
  subnet: string;
  prefixLen: 16;
  /** The range of service virtual IPs, e.g. `10.77.128.0/17`. */
  vipRange: string;
  /** The address of instance `index` (0 → 10.77.1.1, 254 → 10.77.1.255, 255 → 10.77.2.0, …). */
  instanceAddress(index: number): string;
  /** The `n`th service virtual IP (0 → 10.77.128.1). */
  vipAddress(n: number): string;
  isInstanceAddress(address: string): boolean;
  isVip(address: string): boolean;
}

/** Instances: host numbers 257 (10.x.1.1) to 32767 (10.x.127.255). */
const INSTANCE_FIRST = 257;
const INSTANCE_LAST = 127 * 256 + 255;
/** VIPs: host numbers 32769 (10.x.128.1) to 65534 (10.x.255.254, short of the broadcast address). */
const VIP_FIRST = 128 * 256 + 1;
const VIP_LAST = 255 * 256 + 254;

export function createAddressPlan(secondOctet: number = DEFAULT_SECOND_OCTET): AddressPlan {
  if (!Number.isInteger(secondOctet) || secondOctet < 0 || secondOctet > 255) {
    throw new Error(`invalid second octet ${secondOctet}: use 0–255`);
  }
  const base = `10.${secondOctet}`;
  const at = (host: number) => `${base}.${host >> 8}.${host & 255}`;
  const hostOf = (address: string): number | undefined => {
    if (!isIPv4(address)) return undefined;
    const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
    return a === 10 && b === secondOctet ? c * 256 + d : undefined;
  };
  return {
    subnet: `${base}.0.0/16`,
    prefixLen: 16,
    vipRange: `${base}.128.0/17`,
    instanceAddress(index) {
      const host = INSTANCE_FIRST + index;
      if (!Number.isInteger(index) || index < 0 || host > INSTANCE_LAST) {
        throw new Error(`instance index ${index} is outside the plan (0–${INSTANCE_LAST - INSTANCE_FIRST})`);
      }
      return at(host);
    },
    vipAddress(n) {
      const host = VIP_FIRST + n;
      if (!Number.isInteger(n) || n < 0 || host > VIP_LAST) {
        throw new Error(`virtual IP number ${n} is outside the plan (0–${VIP_LAST - VIP_FIRST})`);
      }
      return at(host);
    },
    isInstanceAddress(address) {
      const host = hostOf(address);
      return host !== undefined && host >= INSTANCE_FIRST && host <= INSTANCE_LAST;
    },
    isVip(address) {
      const host = hostOf(address);
      return host !== undefined && host >= VIP_FIRST && host <= VIP_LAST;
    },
  };
}
