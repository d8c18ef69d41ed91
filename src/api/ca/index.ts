export * from './csr.ts';
export * from './protocol.ts';
export * from './renewal.ts';
export * from './spiffe.ts';
