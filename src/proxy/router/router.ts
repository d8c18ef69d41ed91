/**
 * A compiled route table for one service: a flat list of (match, route) entries, sorted once at compile
 * time either by Gateway API precedence or kept in declared order (Istio's first-match semantics), so a
 * request is routed by one linear scan that stops at the first hit.
 */
import { type CompiledMatch, compileMatch, type RequestView } from './match.ts';
import { comparePrecedence } from './precedence.ts';

export interface RouteEntry<R> {
  match: CompiledMatch;
  route: R;
  index: number;
}

export class Router<R> {
  readonly #entries: RouteEntry<R>[];
  readonly #usesQuery: boolean;

  constructor(
    routes: ReadonlyArray<{ route: R; matches: Parameters<typeof compileMatch>[0][] }>,
    order: 'precedence' | 'declared',
  ) {
    const entries: RouteEntry<R>[] = [];
    for (const { route, matches } of routes) {
      for (const m of matches) entries.push({ match: compileMatch(m), route, index: entries.length });
    }
    if (order === 'precedence') {
      entries.sort((a, b) => comparePrecedence(a.match.rank, b.match.rank) || a.index - b.index);
    }
    this.#entries = entries;
    this.#usesQuery = entries.some((e) => e.match.usesQuery);
  }

  get size(): number {
    return this.#entries.length;
  }

  route(req: RequestView): RouteEntry<R> | undefined {
    if (this.#usesQuery && req.params === undefined) req.params = new URLSearchParams(req.query);
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as RouteEntry<R>;
      if (e.match.test(req)) return e;
    }
    return undefined;
  }
}
