export * from './duration.ts';
export * from './errors.ts';
export * from './grpc-status.ts';
export * from './logger.ts';
export * from './random.ts';
