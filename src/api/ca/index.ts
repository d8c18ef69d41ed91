export * from './protocol.ts';
export * from './renewal.ts';
export * from './spiffe.ts';
