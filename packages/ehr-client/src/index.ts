export * from './errors';
export * from './auth';
export * from './client';
export * from './diff';
export * from './references';
export * from './push';
export * from './precedence';
export * from './settings';
