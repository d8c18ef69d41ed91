export * from './apply.ts';
export * from './rules.ts';
