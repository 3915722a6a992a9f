import * as path from 'node:path';

/** Where the lab systemd keeps what it owns, as the guest sees it; `LAB_ROOT` prefixes every one of them. */
export const UNIT_DIR = '/etc/systemd/system';
export const JOURNAL_DIR = '/var/log/journal-lab';
export const RUN_DIR = '/run/systemd';
export const SOCKET_PATH = '/run/systemd/lab.sock';
export const PID_PATH = '/run/systemd/lab.pid';
/** sd_booted() checks for this directory; tools that probe for systemd look at it too. */
export const BOOTED_MARKER = '/run/systemd/system';

export class LabPaths {
  readonly root: string;

  constructor(root: string = process.env.LAB_ROOT || '/') {
    this.root = path.resolve(root);
  }

  /** The real path of a guest path: `LAB_ROOT` + path. */
  host(guestPath: string): string {
    return this.root === '/' ? guestPath : path.join(this.root, guestPath);
  }

  /** The guest's view of a real path under `LAB_ROOT` (for messages, which name the guest's paths). */
  guest(hostPath: string): string {
    if (this.root === '/') return hostPath;
    const rel = path.relative(this.root, hostPath);
    return rel.startsWith('..') ? hostPath : '/' + rel;
  }

  get unitDir(): string {
    return this.host(UNIT_DIR);
  }
  get journalDir(): string {
    return this.host(JOURNAL_DIR);
  }
  get socket(): string {
    return this.host(SOCKET_PATH);
  }
}
