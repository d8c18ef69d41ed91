export * from './pipe.ts';
