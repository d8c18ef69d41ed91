export * from './registry.ts';
export * from './request-metrics.ts';
