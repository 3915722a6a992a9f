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
  // One file at a time by default: two (OPENCLAW_TEST_WORKERS=2) fill the quarter to half of the time a lab file
  // leaves the 2 cores idle (51.5 min against ~80), but at that load real OpenClaw misses its own 5 s state lease
  // (doctor exits 3) and qm its 3 s guest-ping, and a run goes red.
  maxWorkers: Number(process.env.OPENCLAW_TEST_WORKERS ?? 1),
  testTimeout: 120_000,
};
