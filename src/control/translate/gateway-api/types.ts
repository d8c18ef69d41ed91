/**
 * Shapes shared by the Gateway API translator's files: the routes it reads, the status it reports per
 * route, the ProxyConfig input types it writes, and the context one route is translated in for one parent
 * Service. Issues are errors a user should fix (the route's status shows them); notes explain a choice
 * Weft made on a valid route (a Gateway parent ignored, a timeout mapped) and are not errors.
 */
import type { GRPCRouteSpec, HTTPRouteSpec, TCPRouteSpec } from '../../../api/resources/gateway-api/index.ts';
import type { ConfigErrorCode, ConfigIssue } from '../../../core/errors.ts';
import type { RouteInput, ServiceBackendRef, ServiceModel } from '../../model/types.ts';

interface RouteIdentity {
  /** Already defaulted by the caller ('default' when the manifest has none). */
  namespace: string;
  name: string;
  /** metadata.creationTimestamp, for Gateway API ordering; '' when unknown. */
  created: string;
}

/** A route resource that passed its schema, reduced to what translation needs. */
export type ParsedRoute =
  | (RouteIdentity & { kind: 'HTTPRoute'; spec: HTTPRouteSpec })
  | (RouteIdentity & { kind: 'GRPCRoute'; spec: GRPCRouteSpec })
  | (RouteIdentity & { kind: 'TCPRoute'; spec: TCPRouteSpec });

export interface RouteNote {
  path: string;
  message: string;
}

export interface RouteStatus {
  /** True when the route attached to at least one Service (GAMMA's Accepted condition). */
  accepted: boolean;
  issues: ConfigIssue[];
  notes: RouteNote[];
}

export type RouteMatchInput = NonNullable<RouteInput['matches']>[number];
export type FilterInput = NonNullable<RouteInput['filters']>[number];
export type RedirectInput = NonNullable<RouteInput['redirect']>;

export type ServiceIndex = ReadonlyMap<string, ServiceModel>;

export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Collects a route's issues and notes; the same finding from several parents is kept once. */
export interface Report {
  readonly issues: ConfigIssue[];
  readonly notes: RouteNote[];
  issue(code: ConfigErrorCode, path: string, message: string): void;
  note(path: string, message: string): void;
  merge(other: Report): void;
}

export function createReport(): Report {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  const notes: RouteNote[] = [];
  const once = (key: string): boolean => {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const report: Report = {
    issues,
    notes,
    issue(code, path, message) {
      if (once(`i\0${code}\0${path}\0${message}`)) issues.push({ code, path, message });
    },
    note(path, message) {
      if (once(`n\0${path}\0${message}`)) notes.push({ path, message });
    },
    merge(other) {
      for (const i of other.issues) report.issue(i.code, i.path, i.message);
      for (const n of other.notes) report.note(n.path, n.message);
    },
  };
  return report;
}

/** One route translated for one parent Service, at one parent port when that is known. */
export interface RuleContext {
  route: ParsedRoute;
  parent: ServiceModel;
  /** The parent port traffic arrives on; undefined when the route attaches to several ports. */
  parentPort: number | undefined;
  services: ServiceIndex;
  report: Report;
  /** Set when a result depends on the parent port and it is unknown: the caller retries per port. */
  needsParentPort: boolean;
  /** Every service port the translated rules send to, by backend name. */
  backendRefs: Map<string, ServiceBackendRef>;
}

/** `<kind>/<ns>/<name>/<rule name or rule-i>`: names metrics and logs after the rule the user wrote. */
export function ruleRouteName(route: ParsedRoute, ruleName: string | undefined, index: number): string {
  return `${route.kind}/${route.namespace}/${route.name}/${ruleName ?? `rule-${index}`}`;
}
