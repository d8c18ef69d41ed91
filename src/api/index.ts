export * from './proxy-config/index.ts';
