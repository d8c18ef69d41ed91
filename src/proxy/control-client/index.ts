export * from './backoff.ts';
export * from './client.ts';
export * from './target.ts';
