/** Retries on the request path: conditions, back-off, budgets and the compiled per-route policy. */
export * from './backoff.ts';
export * from './budget.ts';
export * from './conditions.ts';
export * from './policy.ts';
