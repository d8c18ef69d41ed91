export * from './line-reader.ts';
export * from './protocol.ts';
export type * from './sync-state.ts';
export * from './version.ts';
