/**
 * A lock file that holds its owner's pid, created with O_EXCL. A lock whose owner is gone (or that holds no pid) is
 * taken over, so a process that died holding it does not block the next one. Used by the OpenClaw cache build
 * (lab/openclaw-cache.ts) and the guest image build (lab/guest-image.ts).
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process exists (EPERM: it does, but is not ours to signal). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface PidLockOptions {
  /** the pause between two tries while a live process holds the lock */
  pollMs: number;
  /** told before each pause who holds the lock and how long we have waited so far; may throw to give up */
  waiting?: (holder: number, waitedMs: number) => void;
}

/** Runs `fn` holding the lock file `lock`, waiting first while another live process holds it. */
export async function withPidLock<T>(lock: string, opts: PidLockOptions, fn: () => Promise<T> | T): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released between our two looks
      }
      if (!Number.isInteger(holder) || holder <= 0 || !pidAlive(holder)) {
        try {
          unlinkSync(lock);
        } catch {
          // someone else took it over
        }
        continue;
      }
      opts.waiting?.(holder, Date.now() - started);
      await sleep(opts.pollMs);
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}
