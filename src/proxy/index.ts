export * from './config-file.ts';
export * from './proxy.ts';
