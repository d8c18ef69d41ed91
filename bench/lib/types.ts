/**
 * Shared shapes of the bench: the protocol sections (and the control section beside them), the figures
 * every load generator reports, the upstream ports every target forwards to, the environment a target
 * starts in, and the `Target` interface that the floor, Weft, nginx and haproxy implement so the measuring
 * code treats them alike.
 */
import type { Proc } from './procs.ts';
import type { LatencySummary } from './stats.ts';

/** h1: HTTP/1.1 keep-alive (wrk); h2: h2c (h2load); grpc: unary gRPC over h2c (grpc-js). */
export type Section = 'h1' | 'h2' | 'grpc';
export const SECTIONS: readonly Section[] = ['h1', 'h2', 'grpc'];

/**
 * What `--sections` selects: the protocol sections, run once per target; `mesh`, run once: two Weft proxies
 * (sidecars) in a row, plaintext and with mutual TLS, against no mesh at a fixed request rate
 * (lib/mesh.ts), with the HTTP/1.1 upstream and no target; and `control`, run once: config propagation
 * from the control plane to simulated proxies (lib/control.ts), with no target and no upstream.
 */
export type BenchSection = Section | 'mesh' | 'control';
export const BENCH_SECTIONS: readonly BenchSection[] = [...SECTIONS, 'mesh', 'control'];

export function isProtocolSection(s: BenchSection): s is Section {
  return s !== 'control' && s !== 'mesh';
}

/**
 * The path where both upstreams answer 200 with a 1 KB body (the mesh section's request, as in Istio's
 * benchmark); every other path keeps its 2-byte "ok", so the protocol sections measure what they did.
 */
export const ONE_KB_PATH = '/1k';
/** The 1,024-byte body served at ONE_KB_PATH: printable ASCII, so nginx can `return` it as text. */
export const ONE_KB_BODY = '0123456789abcdef'.repeat(64);

/**
 * What every load generator (wrk, h2load, the gRPC loop) reports for one measured period, and so what every
 * cell of the report carries. Latency (the `LatencySummary` fields) is in microseconds.
 */
export interface LoadFigures extends LatencySummary {
  durationS: number;
  /** Requests completed in the measured period (gRPC: successful calls). */
  requests: number;
  rps: number;
  /** Failed requests: socket and stream errors plus responses that were not 2xx/3xx (gRPC: non-OK calls). */
  errors: number;
}

/** The fields of `LoadFigures` alone, without whatever else `r` carries. */
export function loadFigures(r: LoadFigures): LoadFigures {
  const { durationS, requests, rps, p50, p90, p99, max, mean, errors } = r;
  return { durationS, requests, rps, p50, p90, p99, max, mean, errors };
}

export type TargetName = 'floor' | 'weft' | 'nginx' | 'haproxy';
export const TARGET_NAMES: readonly TargetName[] = ['floor', 'weft', 'nginx', 'haproxy'];

/** Keyed by section: `upstreams[section]` is the port a target forwards that section to. */
export interface Upstreams {
  /** HTTP/1.1 static responder. */
  h1: number;
  /** h2c static responder (prior knowledge). */
  h2: number;
  /** gRPC server (h2c); 0 when it could not be started. */
  grpc: number;
}

export interface Cores {
  /** Core of the proxy under test (0), or undefined when not pinning. */
  proxy: number | undefined;
  /** Core of the load generator and the upstreams (1). */
  load: number | undefined;
}

export interface StartContext {
  tmpDir: string;
  cores: Cores;
  upstreams: Upstreams;
}

export interface RunningTarget {
  /** The port the load generator sends to. */
  port: number;
  /** The process whose tree is measured for CPU and memory; undefined for the floor. */
  proc: Proc | undefined;
  /** How the target is set up for this section, e.g. "h2c -> HTTP/1.1 upstream". */
  note: string;
  stop(): Promise<void>;
}

export interface Target {
  name: TargetName;
  /** Undefined when the target can run, else why not (e.g. "haproxy not installed"). */
  unavailable(): string | undefined;
  /** Undefined when the section is supported, else why it is skipped. */
  unsupported(section: Section): string | undefined;
  start(section: Section, ctx: StartContext): Promise<RunningTarget>;
}

/** A peer proxy run from a system binary: unavailable without it, and every section supported. */
export function binaryTarget(
  name: TargetName,
  binary: () => string | undefined,
  start: Target['start'],
): Target {
  return {
    name,
    unavailable: () => (binary() === undefined ? `${name} not installed` : undefined),
    unsupported: () => undefined,
    start,
  };
}
