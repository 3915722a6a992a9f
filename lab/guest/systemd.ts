/**
 * The lab's systemd stand-in for the guests (no systemd as PID 1 there): one entry for three programs,
 * dispatching on argv like the real binaries do on their names.
 *
 *   node systemd.js daemon                 the unit supervisor, started once at guest boot (as root)
 *   node systemd.js systemctl …            the systemctl front end; talks to the daemon over /run/systemd/lab.sock
 *   node systemd.js journalctl …           reads the per-unit journal files in /var/log/journal-lab/
 *
 * Every path is the real one under the root prefix in LAB_ROOT (default /).
 */
import * as path from 'node:path';

import { journalctlMain, CliIO } from './systemd/journal';
import { runDaemon } from './systemd/manager';
import { LabPaths } from './systemd/paths';
import { systemctlMain } from './systemd/systemctl';

export { Manager } from './systemd/manager';
export { LabPaths } from './systemd/paths';
export { parseSystemctlArgs } from './systemd/systemctl';
export {
  buildConfig,
  expandExecArgs,
  loadUnit,
  parseEnvFile,
  parseExecLine,
  parseIni,
  parseTimespan,
  splitWords,
} from './systemd/unit-file';
export { formatRelative, formatTimespan } from './systemd/format';

const stdio: CliIO = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
};

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const paths = new LabPaths();
  // `systemctl …` through a symlink or copy named like the tool works too
  const invokedAs = path.basename(process.argv[1] ?? '').replace(/\.(js|ts|cjs)$/, '');
  const [cmd, rest] = ['systemctl', 'journalctl'].includes(invokedAs) ? [invokedAs, argv] : [argv[0], argv.slice(1)];
  switch (cmd) {
    case 'daemon':
    case 'systemd':
      return runDaemon(paths);
    case 'systemctl':
      return systemctlMain(rest, paths, stdio);
    case 'journalctl':
      return journalctlMain(rest, paths, stdio);
    default:
      process.stderr.write('usage: systemd.js daemon | systemctl [ARGS…] | journalctl [ARGS…]\n');
      return 2;
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}
