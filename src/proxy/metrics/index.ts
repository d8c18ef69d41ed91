export * from './peer-requests.ts';
export * from './registry.ts';
export * from './request-metrics.ts';
