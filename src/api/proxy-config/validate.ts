/**
 * Turns untrusted input (parsed YAML/JSON) into a typed ProxyConfig or a list of issues with paths.
 * Field checks and defaults come from the JSON Schema exported from schema.ts (schema.json, so the proxy
 * does not load zod); cross-references (backend names, duplicate ports, regexes, one action per route)
 * are checked here, so a config that passes is safe to compile.
 */
import { createHash } from 'node:crypto';
import type { ConfigIssue } from '../../core/errors.ts';
import { type Schema, validateAgainst } from './json-schema.ts';
import schemaJson from './schema.json' with { type: 'json' };
import type { FilterConfig, ProxyConfig, RouteMatchConfig } from './schema.ts';

const schema = schemaJson as unknown as Schema;

export type ValidateResult = { ok: true; config: ProxyConfig } | { ok: false; issues: ConfigIssue[] };

export function validateProxyConfig(input: unknown): ValidateResult {
  const parsed = validateAgainst(schema, input);
  if (parsed.issues.length > 0) {
    return {
      ok: false,
      issues: parsed.issues.map((i) => ({
        code: 'CONFIG_SCHEMA' as const,
        path: i.path,
        message: i.message,
      })),
    };
  }
  const config = parsed.value as ProxyConfig;
  const issues = validateReferences(config);
  if (issues.length > 0) return { ok: false, issues };
  config.version ??= contentVersion(input);
  return { ok: true, config };
}

export function contentVersion(input: unknown): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 12);
}

function validateReferences(config: ProxyConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // Names key the compiled snapshot's maps, so a duplicate would silently replace an entry.
  const uniqueNames = (list: ReadonlyArray<{ name: string }>, section: string, what: string) => {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (seen.has(item.name))
        issues.push({
          code: 'CONFIG_CONFLICT',
          path: `${section}.${i}.name`,
          message: `duplicate ${what} "${item.name}"`,
        });
      seen.add(item.name);
    });
    return seen;
  };
  const backendNames = uniqueNames(config.backends, 'backends', 'backend');
  uniqueNames(config.inbound, 'inbound', 'inbound');
  uniqueNames(config.outbound, 'outbound', 'outbound');
  const listens = new Map<string, string>();
  const claim = (addr: string, port: number, path: string) => {
    if (port === 0) return;
    const key = `${addr}:${port}`;
    // A wildcard address takes the port on every address, so it clashes with any other use of the port.
    const wild = (a: string) => a === '0.0.0.0' || a === '::';
    let prev = listens.get(key);
    for (const [k, owner] of listens) {
      const colon = k.lastIndexOf(':');
      if (
        prev === undefined &&
        k.slice(colon + 1) === String(port) &&
        (wild(addr) || wild(k.slice(0, colon)))
      )
        prev = owner;
    }
    if (prev) issues.push({ code: 'CONFIG_CONFLICT', path, message: `${key} is already used by ${prev}` });
    else listens.set(key, path);
  };
  if (config.admin.path === undefined) claim(config.admin.address, config.admin.port, 'admin');
  if (config.httpProxy) claim(config.httpProxy.address, config.httpProxy.port, 'httpProxy');
  if (config.interception) {
    const { outbound, inbound } = config.interception;
    claim(outbound.address, outbound.port, 'interception.outbound');
    claim(inbound.address, inbound.port, 'interception.inbound');
  }
  const inboundPorts = new Map<number, number>();
  config.inbound.forEach((ib, i) => {
    checkFilters(ib.filters, `inbound.${i}.filters`);
    if (ib.listen) {
      claim(ib.listen.address, ib.listen.port, `inbound.${i}.listen`);
      return;
    }
    if (!config.interception)
      issues.push({
        code: 'CONFIG_SCHEMA',
        path: `inbound.${i}.listen`,
        message: 'an inbound entry needs `listen` unless `interception` (transparent mode) is set',
      });
    // Intercepted connections pick their entry by original destination port: one entry per port.
    const prev = inboundPorts.get(ib.target.port);
    if (prev !== undefined)
      issues.push({
        code: 'CONFIG_CONFLICT',
        path: `inbound.${i}.target.port`,
        message: `port ${ib.target.port} is already served by inbound.${prev}`,
      });
    else inboundPorts.set(ib.target.port, i);
  });
  config.outbound.forEach((ob, i) => {
    if (ob.listen && ob.listen.path === undefined)
      claim(ob.listen.address, ob.listen.port, `outbound.${i}.listen`);
    ob.tcpBackends.forEach((wb, k) => {
      checkBackend(wb.backend, `outbound.${i}.tcpBackends.${k}.backend`);
      checkFilters(wb.filters, `outbound.${i}.tcpBackends.${k}.filters`, true);
    });
    ob.routes.forEach((r, j) => {
      const actions = [r.backends, r.redirect, r.directResponse].filter((x) => x !== undefined).length;
      if (actions !== 1)
        issues.push({
          code: 'CONFIG_SCHEMA',
          path: `outbound.${i}.routes.${j}`,
          message: 'a route needs exactly one action: backends, redirect or directResponse',
        });
      checkFilters(r.filters, `outbound.${i}.routes.${j}.filters`);
      r.backends?.forEach((wb, k) => {
        checkBackend(wb.backend, `outbound.${i}.routes.${j}.backends.${k}.backend`);
        checkFilters(wb.filters, `outbound.${i}.routes.${j}.backends.${k}.filters`, true);
      });
      r.matches.forEach((m, k) => {
        checkMatch(m, `outbound.${i}.routes.${j}.matches.${k}`);
      });
    });
  });
  return issues;

  function checkBackend(name: string, path: string) {
    if (!backendNames.has(name))
      issues.push({
        code: 'CONFIG_REFERENCE',
        path,
        message: `backend "${name}" is not defined in backends`,
      });
  }
  // Filters that name a backend (RequestMirror) need it to exist and to speak HTTP; the filters that act on
  // a whole request before the route (Fault, LocalRateLimit, CORS) belong to a route or an inbound entry.
  function checkFilters(filters: readonly FilterConfig[], path: string, onBackend = false) {
    filters.forEach((f, n) => {
      const at = `${path}.${n}`;
      if (onBackend && (f.type === 'Fault' || f.type === 'LocalRateLimit' || f.type === 'CORS')) {
        issues.push({
          code: 'CONFIG_SCHEMA',
          path: `${at}.type`,
          message: `a ${f.type} filter applies to a whole route (or an inbound entry), not to one of its backends`,
        });
        return;
      }
      if (f.type === 'Fault') checkFault(f.fault, `${at}.fault`);
      else if (f.type === 'LocalRateLimit') checkRateLimit(f.localRateLimit, `${at}.localRateLimit`);
      else if (f.type === 'CORS')
        f.cors.allowOrigins.forEach((o, k) => {
          if (o.type === 'RegularExpression') checkRegex(o.value, `${at}.cors.allowOrigins.${k}.value`);
        });
      if (f.type !== 'RequestMirror') return;
      const mirrorAt = `${at}.requestMirror.backend`;
      const name = f.requestMirror.backend;
      checkBackend(name, mirrorAt);
      if (config.backends.some((b) => b.name === name && b.protocol === 'tcp'))
        issues.push({
          code: 'CONFIG_SCHEMA',
          path: mirrorAt,
          message: `backend "${name}" is a tcp backend; a mirror needs an HTTP backend`,
        });
    });
  }
  function checkFault(fault: Extract<FilterConfig, { type: 'Fault' }>['fault'], path: string) {
    if (fault.delay === undefined && fault.abort === undefined)
      issues.push({ code: 'CONFIG_SCHEMA', path, message: 'a Fault filter needs delay, abort or both' });
    const abort = fault.abort;
    if (abort && (abort.httpStatus === undefined) === (abort.grpcStatus === undefined))
      issues.push({
        code: 'CONFIG_SCHEMA',
        path: `${path}.abort`,
        message: 'an abort needs exactly one of httpStatus and grpcStatus',
      });
  }
  function checkRateLimit(
    limit: Extract<FilterConfig, { type: 'LocalRateLimit' }>['localRateLimit'],
    path: string,
  ) {
    const checkBucket = (b: { fillInterval: number }, at: string) => {
      // Envoy refuses a fill timer under 50 ms: a shorter interval is a rate better written per second.
      if (b.fillInterval < 50)
        issues.push({ code: 'CONFIG_SCHEMA', path: `${at}.fillInterval`, message: 'must be at least 50ms' });
    };
    checkBucket(limit.tokenBucket, `${path}.tokenBucket`);
    limit.descriptors.forEach((d, k) => {
      const at = `${path}.descriptors.${k}`;
      checkBucket(d.tokenBucket, `${at}.tokenBucket`);
      checkMatch(d.match, `${at}.match`);
    });
  }
  function checkMatch(m: RouteMatchConfig, base: string) {
    if (m.path?.type === 'RegularExpression') checkRegex(m.path.value, `${base}.path.value`);
    if (m.path && m.path.type !== 'RegularExpression' && !m.path.value.startsWith('/'))
      issues.push({
        code: 'CONFIG_SCHEMA',
        path: `${base}.path.value`,
        message: 'path must start with "/"',
      });
    m.headers.forEach((h, n) => {
      checkValueMatch(h, `${base}.headers.${n}`);
    });
    m.queryParams.forEach((q, n) => {
      checkValueMatch(q, `${base}.queryParams.${n}`);
    });
  }
  function checkRegex(source: string, path: string) {
    try {
      new RegExp(source);
    } catch (err) {
      issues.push({ code: 'CONFIG_REGEX', path, message: (err as Error).message });
    }
  }
  function checkValueMatch(m: { type: string; value?: string | undefined }, path: string) {
    if ((m.type === 'Exact' || m.type === 'RegularExpression') && m.value === undefined)
      issues.push({
        code: 'CONFIG_SCHEMA',
        path: `${path}.value`,
        message: `a ${m.type} match needs a value`,
      });
    if (m.type === 'RegularExpression' && m.value !== undefined) checkRegex(m.value, `${path}.value`);
  }
}
