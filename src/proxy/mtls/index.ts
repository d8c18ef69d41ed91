export * from './client-hello.ts';
export * from './identity-files.ts';
export * from './mesh-tls.ts';
