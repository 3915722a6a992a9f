/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  setupFiles: ['<rootDir>/test/support/quiet-runtime.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // each file's time at the end, before jest's own summary (which stays the last lines: CI reads them)
  reporters: ['<rootDir>/test/support/file-times-reporter.mjs', 'default'],
  // Integration tests start real servers; one worker keeps the 2-core machine from thrashing.
  maxWorkers: 1,
  testTimeout: 120_000,
};
