export * from './address-plan.ts';
export * from './cleanup.ts';
export * from './command.ts';
export * from './exec.ts';
export * from './hosts.ts';
export * from './hub.ts';
export * from './instance.ts';
export * from './names.ts';
