export * from './detect.ts';
export * from './listener.ts';
export * from './manager.ts';
