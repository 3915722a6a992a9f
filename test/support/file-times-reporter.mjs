// A jest reporter: at the end of a run, each test file's time, longest first, and their total (issue 19: where
// the suite's time goes). Plain JavaScript: jest loads reporters without its transform. Jest prints its own summary
// (Test Suites, Tests, Time, "Ran all test suites") after every custom reporter, so it stays the run's last lines.
import { relative } from 'node:path';
import process from 'node:process';

export default class FileTimesReporter {
  /** @param {import('@jest/reporters').Config.GlobalConfig} globalConfig */
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  /** @param {unknown} _contexts @param {import('@jest/reporters').AggregatedResult} results */
  onRunComplete(_contexts, results) {
    const files = results.testResults
      .map((result) => ({
        path: relative(this.rootDir, result.testFilePath),
        seconds: (result.perfStats.end - result.perfStats.start) / 1000,
        failed: result.numFailingTests > 0 || result.testExecError !== undefined,
      }))
      .sort((a, b) => b.seconds - a.seconds || a.path.localeCompare(b.path));
    if (files.length === 0) return;
    const total = files.reduce((sum, file) => sum + file.seconds, 0);
    const width = Math.max(...files.map((file) => file.path.length));
    const line = (label, seconds, note) => `  ${label.padEnd(width)}  ${seconds.toFixed(1).padStart(7)} s${note}\n`;
    let out = '\nTime per test file, longest first:\n';
    for (const file of files) out += line(file.path, file.seconds, file.failed ? '  FAILED' : '');
    out += line(
      `total of ${files.length} file${files.length === 1 ? '' : 's'}`,
      total,
      ` (${(total / 60).toFixed(1)} min)`,
    );
    process.stderr.write(out);
  }
}
