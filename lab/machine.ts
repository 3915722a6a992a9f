/**
 * Starting the lab's machines and reaching into them: detached processes, the pid that `unshare --fork` made,
 * commands run in a machine's namespaces, and the real guests' systemd-nspawn containers (lab/nspawn-boot.sh).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitFor } from './shared/wait';

const labSources = resolve(__dirname);

/**
 * Every machine's address on its "LAN" (a VM's NIC has one): lab/nspawn-boot.sh puts it on the loopback device of
 * the machine's network namespace, the only device there. Not a loopback address, because OpenClaw 2026.9.6 refuses
 * a model provider whose host name resolves to one (see MODEL_HOST in lab/model-stub.ts).
 */
export const MACHINE_LAN_ADDRESS = '10.98.0.1';

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

/** nsenter's arguments that run `argv` as root in every namespace of the machine whose PID 1 is `initPid`. */
export const inMachine = (initPid: number, argv: string[]) => [
  '-t',
  String(initPid),
  '-m',
  '-u',
  '-i',
  '-n',
  '-p',
  '-r',
  '-w',
  '--',
  ...argv,
];

/** Runs a command as root in every namespace of the machine whose PID 1 has host pid `initPid`. */
export function enterMachine(initPid: number, argv: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync('nsenter', inMachine(initPid, argv), {
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
  /** a tar of a Docker storage that the container's /var/lib/docker starts from (the guest image's snapshot) */
  dockerSnapshot?: string;
  /** host directories the container sees, at their guest paths */
  binds: { host: string; guest: string; readOnly?: boolean }[];
}

export interface Container {
  /**
   * the boot script (lab/nspawn-boot.sh): it lives as long as the machine, across the guest's reboots, as a VM's
   * QEMU process does; its mount and network namespaces hold the guest's disks and its loopback
   */
  machinePid: number;
  /** the PID 1 (the image's systemd) of the boot that `bootContainer` waited for; a reboot makes a new one */
  initPid: number;
  /** the container's host directory (ContainerOptions.machineDir) */
  machineDir: string;
}

/**
 * Serves a host unix socket on <bind>:<port> inside a machine's network namespace: socat in the namespace, which
 * outlives the guest's reboots as a VM's NIC does. Returns socat's pid.
 */
export function bridgeIntoMachine(container: Container, port: number, socket: string, bind = '127.0.0.1'): number {
  return startDetached(
    'nsenter',
    [
      `--net=/proc/${container.machinePid}/ns/net`,
      'socat',
      `TCP-LISTEN:${port},bind=${bind},fork,reuseaddr`,
      `UNIX-CONNECT:${socket}`,
    ],
    {},
    join(container.machineDir, `bridge-${port}.log`),
  );
}

/** Boots a systemd-nspawn container and returns once its systemd has finished booting (running or degraded). */
export async function bootContainer(opts: ContainerOptions, timeoutMs = 120_000): Promise<Container> {
  const machinePid = startDetached(
    'unshare',
    [
      '--mount',
      '--net',
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
      LAB_DOCKER_SNAPSHOT: opts.dockerSnapshot ?? '',
      LAB_HOSTNAME: opts.hostname,
      LAB_LAN_ADDRESS: MACHINE_LAN_ADDRESS,
    },
    join(opts.machineDir, 'boot.log'),
  );
  const initPid = await waitForBoot(machinePid, {
    timeoutMs,
    timeoutMessage: `lab: container ${opts.hostname} did not boot within ${timeoutMs / 1000} s (see ${opts.machineDir}/boot.log)`,
  });
  return { machinePid, initPid, machineDir: opts.machineDir };
}

/** The container's PID 1 now: the systemd that the machine's current systemd-nspawn runs, if it runs one. */
export function containerInit(machinePid: number): number | undefined {
  // Until nspawn runs, the boot script's own children (mount, cp) come and go: look for nspawn, then its systemd.
  const nspawn = forkedChild(machinePid);
  if (nspawn === undefined || commandName(nspawn) !== 'systemd-nspawn') return undefined;
  const init = forkedChild(nspawn);
  return init !== undefined && commandName(init) === 'systemd' ? init : undefined;
}

/**
 * Waits until the machine's systemd has finished booting (running or degraded) and returns its pid. After a
 * reboot, `rebooted` names the PID 1 that rebooted: it answers until it is gone, and is not the boot waited for.
 */
export async function waitForBoot(
  machinePid: number,
  { rebooted, timeoutMs, timeoutMessage }: { rebooted?: number; timeoutMs: number; timeoutMessage: string },
): Promise<number> {
  return waitFor(
    () => {
      if (!pidExists(machinePid)) throw new Error(`${timeoutMessage}: the machine (pid ${machinePid}) is gone`);
      const init = containerInit(machinePid);
      if (init === undefined || init === rebooted) return false;
      const state = enterMachine(init, ['systemctl', 'is-system-running']).stdout?.trim();
      return (state === 'running' || state === 'degraded') && init;
    },
    { timeoutMs, pollMs: 500, timeoutMessage },
  );
}

/**
 * Ends a container at once, as pulling a VM's plug would: the boot script goes first (so nothing boots again),
 * then PID 1, which kills every process in its pid namespace (Docker's containers too), and nspawn exits.
 */
export async function killContainer(container: Container, timeoutMs = 30_000): Promise<void> {
  const init = containerInit(container.machinePid);
  const nspawn = forkedChild(container.machinePid);
  const pids = [container.machinePid, ...(init === undefined ? [] : [init]), ...(nspawn === undefined ? [] : [nspawn])];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(() => !pids.some(pidExists), {
    timeoutMs,
    pollMs: 100,
    timeoutMessage: `lab: container (machine pid ${container.machinePid}) did not exit`,
  });
  await removeMachineCgroup(container.machineDir);
}

/**
 * Removes the cgroup tree a machine's boot script made (named in `<machine dir>/cgroup`), once its processes are
 * gone: the container's systemd leaves its slices and units' cgroups behind, and a cgroup goes only when empty,
 * which a killed process leaves only once it is reaped.
 */
export async function removeMachineCgroup(machineDir: string, timeoutMs = 30_000): Promise<void> {
  const record = join(machineDir, 'cgroup');
  if (!existsSync(record)) return;
  const root = readFileSync(record, 'utf8').trim();
  if (existsSync(root)) {
    await waitFor(() => /^populated 0$/m.test(readFileSync(join(root, 'cgroup.events'), 'utf8')), {
      timeoutMs,
      pollMs: 100,
      timeoutMessage: `lab: processes are still left in ${root}`,
    });
    const deepestFirst = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .flatMap((entry) => [...deepestFirst(join(dir, entry.name)), join(dir, entry.name)]);
    for (const dir of [...deepestFirst(root), root]) rmdirSync(dir);
  }
  rmSync(record);
}

function pidExists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}
