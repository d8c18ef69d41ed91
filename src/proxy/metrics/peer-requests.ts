/**
 * Inbound requests by who sent them: `connection_security_policy` (mutual_tls or none) and
 * `source_principal` (the peer's SPIFFE id), Istio's label names. One series per peer identity, found by
 * a map lookup per request (peers are few: one per calling workload's service account).
 */
import type { Counter, MetricsRegistry } from './registry.ts';

export class PeerRequestCounters {
  readonly #registry: MetricsRegistry;
  readonly #service: string;
  readonly #byPeer = new Map<string, Counter>();
  #plaintext: Counter | undefined;

  constructor(registry: MetricsRegistry, service: string) {
    this.#registry = registry;
    this.#service = service;
  }

  /** Counts one request; `peer` is the SPIFFE id of a mutually authenticated client, else undefined. */
  count(peer: string | undefined): void {
    if (peer === undefined) {
      this.#plaintext ??= this.#series('none', 'unknown');
      this.#plaintext.value++;
      return;
    }
    let c = this.#byPeer.get(peer);
    if (!c) this.#byPeer.set(peer, (c = this.#series('mutual_tls', peer)));
    c.value++;
  }

  #series(policy: string, principal: string): Counter {
    return this.#registry.counter(
      'weft_inbound_requests_total',
      'Inbound requests by peer: whether mutual TLS carried them, and the client identity.',
      { service: this.#service, connection_security_policy: policy, source_principal: principal },
    );
  }
}
