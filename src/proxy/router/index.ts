export * from './match.ts';
export * from './precedence.ts';
export * from './router.ts';
