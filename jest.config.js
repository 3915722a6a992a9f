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
  // Two files at a time: a lab file's migrations leave the 2 cores idle a quarter to a half of the time (guests
  // waiting on gateways, timers, retries), which the other file fills. More thrash the machine. OPENCLAW_TEST_WORKERS
  // overrides it (1 to run the files one after another).
  maxWorkers: Number(process.env.OPENCLAW_TEST_WORKERS ?? 2),
  testTimeout: 120_000,
};
