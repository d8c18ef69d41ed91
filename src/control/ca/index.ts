export * from './authority.ts';
export * from './join-token.ts';
export { CA_FILES } from './store.ts';
