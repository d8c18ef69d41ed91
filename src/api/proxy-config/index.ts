// Types only from the zod schema: importing its values would load zod into every proxy (see schema.ts).
export type * from './schema.ts';
export * from './validate.ts';
