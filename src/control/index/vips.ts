/**
 * Virtual IPs for services (transparent mode), kept in a file so a restarted control plane hands every
 * service the same address and the proxies' views do not change. Addresses come from 10.77.128.0/17,
 * inside the run's own network namespaces (docs/design/003).
 */
import fs from 'node:fs';

const BASE = (10 << 24) | (77 << 16) | (128 << 8);
const SIZE = 1 << 15;

export interface VipAllocator {
  /** The service's address, allocated on first use. */
  get(serviceKey: string): string;
  /** Frees addresses of services that no longer exist. */
  retain(keys: ReadonlySet<string>): void;
}

export function ipFromInt(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function createVipAllocator(file?: string): VipAllocator {
  let table: Record<string, number> = {};
  if (file) {
    try {
      table = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>;
    } catch {}
  }
  const save = () => {
    if (!file) return;
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(table, null, 1));
    fs.renameSync(tmp, file);
  };
  return {
    get(key) {
      let n = table[key];
      if (n === undefined) {
        const used = new Set(Object.values(table));
        n = 10;
        while (used.has(n) && n < SIZE - 1) n++;
        table[key] = n;
        save();
      }
      return ipFromInt(BASE + n);
    },
    retain(keys) {
      let changed = false;
      for (const k of Object.keys(table)) {
        if (!keys.has(k)) {
          delete table[k];
          changed = true;
        }
      }
      if (changed) save();
    },
  };
}
