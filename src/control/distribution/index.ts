export * from './server.ts';
export * from './view.ts';
