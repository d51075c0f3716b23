export * from './connection';
export * from './names';
export * from './payload';
export * from './retry';
export * from './order-lock';
export * from './tracking';
export * from './queues';
export * from './settings';
