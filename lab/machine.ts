/**
 * Starting the lab's machines and reaching into them: detached processes, the pid that `unshare --fork` made,
 * commands run in a machine's namespaces, and the real guests' systemd-nspawn containers (lab/nspawn-boot.sh).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitFor } from './shared/wait';

const labSources = resolve(__dirname);

export function startDetached(command: string, args: string[], env: NodeJS.ProcessEnv, logPath: string): number {
  const log = openSync(logPath, 'a');
  const child = spawn(command, args, { env, detached: true, stdio: ['ignore', log, log] });
  child.unref();
  if (!child.pid) throw new Error(`lab: could not start ${command}`);
  return child.pid;
}

/** The first child of a process: PID 1 of the namespaces that `unshare --fork` or systemd-nspawn made. */
export function forkedChild(parentPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${parentPid}/task/${parentPid}/children`, 'utf8').trim();
    return children ? Number(children.split(' ')[0]) : undefined;
  } catch {
    return undefined;
  }
}

function commandName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Runs a command as root in every namespace of the machine whose PID 1 has host pid `initPid`. */
export function enterMachine(initPid: number, argv: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync('nsenter', ['-t', String(initPid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--', ...argv], {
    encoding: 'utf8',
    input,
    maxBuffer: 64 * 1024 * 1024,
  });
}

export interface ContainerOptions {
  /** the guest image's root file system, shared read-only by every container */
  imageRoot: string;
  /** the container's host directory; `seed/` in it is laid over the image */
  machineDir: string;
  hostname: string;
  diskSize: string;
  dockerSize: string;
  /** host directories the container sees, at their guest paths */
  binds: { host: string; guest: string; readOnly?: boolean }[];
}

export interface Container {
  /** the systemd-nspawn process (its mount namespace holds the container's disks) */
  nspawnPid: number;
  /** the container's PID 1, the image's systemd */
  initPid: number;
}

/** Boots a systemd-nspawn container and returns once its systemd has finished booting (running or degraded). */
export async function bootContainer(opts: ContainerOptions, timeoutMs = 120_000): Promise<Container> {
  const nspawnPid = startDetached(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'bash',
      join(labSources, 'nspawn-boot.sh'),
      ...opts.binds.map(
        (bind) => `--${bind.readOnly ? 'bind-ro' : 'bind'}=${bind.host.replace(/:/g, '\\:')}:${bind.guest}`,
      ),
    ],
    {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LAB_IMAGE_ROOT: opts.imageRoot,
      LAB_MACHINE_DIR: opts.machineDir,
      LAB_DISK_SIZE: opts.diskSize,
      LAB_DOCKER_SIZE: opts.dockerSize,
      LAB_HOSTNAME: opts.hostname,
    },
    join(opts.machineDir, 'boot.log'),
  );
  const message = `lab: container ${opts.hostname} did not boot within ${timeoutMs / 1000} s (see ${opts.machineDir}/boot.log)`;
  // Until nspawn runs, the boot script's own children (mount, cp) come and go: wait for the one that is systemd.
  const initPid = await waitFor(
    () => {
      const child = forkedChild(nspawnPid);
      return child !== undefined && commandName(child) === 'systemd' && child;
    },
    { timeoutMs, pollMs: 100, timeoutMessage: message },
  );
  await waitFor(
    () => {
      const state = enterMachine(initPid, ['systemctl', 'is-system-running']).stdout?.trim();
      return state === 'running' || state === 'degraded';
    },
    { timeoutMs, pollMs: 500, timeoutMessage: message },
  );
  return { nspawnPid, initPid };
}

/**
 * Ends a container at once, as pulling a VM's plug would: its PID 1 is killed, which kills every process in its
 * pid namespace (Docker's containers too), and then nspawn exits. Killing nspawn alone would leave the guest running.
 */
export async function killContainer(container: Container, timeoutMs = 30_000): Promise<void> {
  for (const pid of [container.initPid, container.nspawnPid]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(() => !pidExists(container.nspawnPid) && !pidExists(container.initPid), {
    timeoutMs,
    pollMs: 100,
    timeoutMessage: `lab: container (nspawn pid ${container.nspawnPid}) did not exit`,
  });
}

function pidExists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}
