export * from './compile.ts';
export * from './types.ts';
