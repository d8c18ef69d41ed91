/**
 * What the control plane knows about each proxy's config stream, as its API shows it (`weft proxies`,
 * the dashboard). The states are the design's (docs/design/003): `synced` (the proxy runs the current
 * view), `stale` (the view changed and the proxy has not acked it yet), `nacked` (the proxy rejected the
 * current view, with its issues), `waiting` (connected, but the control plane has no view for this node
 * yet) and `disconnected` (kept in the list for a while after the stream ended).
 */

export type SyncStateName = 'synced' | 'stale' | 'nacked' | 'waiting' | 'disconnected';

export interface ProxySyncState {
  node: string;
  state: SyncStateName;
  connected: boolean;
  /** ISO time the current (or last) stream opened. */
  connectedAt: string | undefined;
  /** ISO time the last stream ended, when disconnected. */
  disconnectedAt: string | undefined;
  /** ISO time of the last line or HTTP/2 PING answer from the proxy. */
  lastSeen: string;
  /** The peer address of the stream (an IP and port, or "unix"). */
  remote: string | undefined;
  /** The version of this node's current view; undefined when there is none. */
  currentVersion: string | undefined;
  /** The last version written to the proxy. */
  sentVersion: string | undefined;
  /** The version the proxy last said it runs (its hello, or its last ack). */
  ackedVersion: string | undefined;
  /** The last rejection, kept after later acks as history; `state` says whether it still applies. */
  nack?: { version: string; issues: unknown[]; at: string };
  /** Time from writing the last acked version to its ack. */
  ackLatencyMs?: number;
  /** Counts over the life of this control plane process, across reconnects. */
  counters: { connects: number; sent: number; acked: number; nacked: number };
}

/** Totals over all proxies, for metrics. */
export interface DistributionTotals {
  connected: number;
  sent: number;
  acked: number;
  nacked: number;
  protocolErrors: number;
}
