export * from './config';
export * from './launcher';
export * from './demo';
export * from './redis';
