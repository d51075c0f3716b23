// One jest config for the whole tree. ts-jest transpiles only (isolatedModules in tsconfig);
// `pnpm typecheck` runs the type checker over everything once.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/test', '<rootDir>/fhir-profiles'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'cjs', 'mjs', 'json'],
  testTimeout: 60000,
  // Suites share one machine with Redis and the FHIR server; two workers match the 2 cores.
  maxWorkers: 2,
  reporters: ['default'],
};
