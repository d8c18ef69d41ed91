/**
 * Shared shapes of the bench: the protocol sections, the upstream ports every target forwards to, the
 * environment a target starts in, and the `Target` interface that the floor, Weft, nginx and haproxy
 * implement so the measuring code treats them alike.
 */
import type { Proc } from './procs.ts';

/** h1: HTTP/1.1 keep-alive (wrk); h2: h2c (h2load); grpc: unary gRPC over h2c (grpc-js). */
export type Section = 'h1' | 'h2' | 'grpc';
export const SECTIONS: readonly Section[] = ['h1', 'h2', 'grpc'];

export type TargetName = 'floor' | 'weft' | 'nginx' | 'haproxy';
export const TARGET_NAMES: readonly TargetName[] = ['floor', 'weft', 'nginx', 'haproxy'];

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
