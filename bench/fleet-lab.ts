import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { labDown, labUp } from '../lab/lab';
import { fleetWorkflowId } from '../src/fleet/messages';
import { migrationId, statusQuery, type MigrationStatus } from '../src/migration/messages';
import { WorkerProcesses } from '../test/support/worker-process';
import { devServer } from './fleet';
import { median, phaseRows, s, startWatcher, stopWatcher, unionMs, type GuestCommandSeen } from './outage';

/**
 * Prints figures, asserts nothing: `npm run bench -- fleet-lab`. Where the product's own time and CPU go: the
 * 3-guest lab fleet with the realistic install (`npm install -g openclaw` through the lab's registry), migrated by
 * the real CLI (`migrate fleet --yes`) with the worker as a process of its own (`node --import tsx src/worker.ts`,
 * as `npm run worker` in development), once at K=2 (canary 1) and once at K=3 (canary 0), on fresh guests. For each:
 * per phase the activity's time (the run's phase record), the guest commands' own time (seen from inside the guest
 * by scripts/guest-commands.py) and their difference, medians over the VMs; the CPU seconds of the dev server, the
 * worker and the CLI (/proc) per migrated VM; the processes started (scripts/process-starts.py, the kernel's
 * process events) below the control plane (this process, the dev server, the worker, the CLI), the node (its sshd
 * sessions, qm and the waits there) and the guests, per migrated VM and per second of guest command; and the
 * makespan against the schedule-aware ideal of the guest commands' own times (the canaries one after another, then
 * the rest K at a time, each VM as long as its commands).
 */
export async function benchFleetLab(): Promise<void> {
  const env = await devServer();
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-bench-fleet-lab-'));
  const taskQueue = `bench-fleet-lab-${process.pid}`;
  // the worker bundles its workflow code at start (development mode): allowed the time that takes on a busy machine
  const workers = new WorkerProcesses({
    address: env.address,
    taskQueue,
    logPath: join(dir, 'worker.log'),
    readyTimeoutMs: 300_000,
  });
  const server = devServerPid();
  try {
    const worker = (await workers.start()).pid;
    for (const [concurrency, canary, firstVmid] of [
      [2, 1, 105],
      [3, 0, 205],
    ]) {
      const labDir = join(dir, `lab-${concurrency}`);
      // other vmids for the second run: the first one's records stay on the same server
      const lab = await labUp({ guests: 3, install: 'registry', firstVmid }, labDir);
      try {
        const vmids = lab.guests.map((guest) => guest.vmid);
        vmids.forEach((vmid) => startWatcher(lab, vmid));
        const counter = startCounter({
          control: process.pid,
          node: lab.nodes[0].pid,
          ...Object.fromEntries(lab.guests.map((guest) => [`guest${guest.vmid}`, guest.initPid])),
        });
        const cpuBefore = { server: cpuMs(server), worker: cpuMs(worker) };
        const started = Date.now();
        const cliMs = await runCli(env.address, taskQueue, lab.inventoryPath, concurrency, canary, dir);
        await env.client.workflow.getHandle(fleetWorkflowId(`bench-k${concurrency}`)).result();
        const makespanMs = Date.now() - started;
        const cpu = { server: cpuMs(server) - cpuBefore.server, worker: cpuMs(worker) - cpuBefore.worker, cli: cliMs };
        const starts = await stopCounter(counter);
        const vms = await Promise.all(
          vmids.map(async (vmid) => ({
            vmid,
            status: await env.client.workflow.getHandle(migrationId(vmid)).query(statusQuery),
            commands: stopWatcher(lab, vmid),
          })),
        );
        report({ concurrency, canary, makespanMs, cpu, starts, vms });
      } finally {
        await labDown(labDir);
      }
    }
  } finally {
    await workers.stop();
    await env.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Run {
  concurrency: number;
  canary: number;
  makespanMs: number;
  cpu: { server: number; worker: number; cli: number };
  starts: Record<string, number>;
  vms: { vmid: number; status: MigrationStatus; commands: GuestCommandSeen[] }[];
}

/** The CLI as an operator runs it, followed to its end; its CPU from bash's `times` (its children's). */
async function runCli(
  address: string,
  taskQueue: string,
  inventory: string,
  concurrency: number,
  canary: number,
  dir: string,
): Promise<number> {
  const argv = ['migrate', 'fleet', '--inventory', inventory, '--fleet', `bench-k${concurrency}`, '--yes'];
  argv.push('--concurrency', String(concurrency), '--canary', String(canary), '--json');
  const child = spawn(
    '/bin/bash',
    [
      '-c',
      '"$@" > "$BENCH_CLI_LOG" 2>&1; times',
      'cli',
      process.execPath,
      '--import',
      'tsx',
      'src/starter.ts',
      ...argv,
    ],
    {
      cwd: resolve(__dirname, '..'),
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        BENCH_CLI_LOG: join(dir, `cli-${concurrency}.log`),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((done) => child.once('exit', done));
  // `times`: the shell's own user and system time, then its children's: `0m1.234s 0m0.567s`
  const children = out.trim().split('\n').pop() ?? '';
  const ms = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, sec]) => (Number(m) * 60 + Number(sec)) * 1000);
  if (ms.length !== 2) throw new Error(`the CLI's times: ${JSON.stringify(out)}`);
  return ms[0] + ms[1];
}

/** user + system CPU of a live process, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The dev server: this process's child running the Temporal CLI that setup built. */
function devServerPid(): number {
  const cli = process.env.TEMPORAL_CLI;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (ppid === process.pid && cli && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(cli))
        return Number(pid);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no dev server (${cli}) among this process's children`);
}

function startCounter(roots: Record<string, number>): { child: ChildProcess; output: Promise<string> } {
  const script = join(__dirname, 'scripts/process-starts.py');
  const child = spawn('python3', [script, ...Object.entries(roots).map(([name, pid]) => `${name}=${pid}`)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const output = new Promise<string>((done) => child.once('exit', () => done(out)));
  return { child, output };
}

async function stopCounter({ child, output }: { child: ChildProcess; output: Promise<string> }) {
  child.kill('SIGTERM');
  return JSON.parse(await output) as Record<string, number>;
}

/** The canaries one after another, then the rest K at a time in the fleet's order, each as long as `ms`. */
export function scheduleAwareIdeal(ms: number[], canary: number, concurrency: number): number {
  const serial = ms.slice(0, canary).reduce((a, b) => a + b, 0);
  const slots = new Array<number>(concurrency).fill(0);
  for (const length of ms.slice(canary)) slots[slots.indexOf(Math.min(...slots))] += length;
  return serial + Math.max(...slots);
}

function report({ concurrency, canary, makespanMs, cpu, starts, vms }: Run): void {
  const migrated = vms.filter((vm) => vm.status.phase === 'completed').length;
  const ownByVm = vms.map((vm) => unionMs(vm.commands));
  const commandMs = ownByVm.reduce((a, b) => a + b, 0);
  const ideal = scheduleAwareIdeal(ownByVm, canary, concurrency);
  console.log(
    `\nfleet-lab K=${concurrency} canary ${canary}: ${vms.length} VMs (${migrated} completed: ` +
      `${vms.map((vm) => `${vm.vmid} ${vm.status.phase}`).join(', ')}); makespan ${s(makespanMs)} s, ideal ` +
      `${s(ideal)} s (the guest commands' own times, scheduled), makespan/ideal ${(makespanMs / ideal).toFixed(2)}`,
  );
  console.log(`  ${'phase (medians over the VMs, s)'.padEnd(44)} activity   guest command   difference`);
  for (const [phase, { recorded: activity, guest: own }] of phaseRows(vms))
    console.log(
      `  ${phase.padEnd(44)} ${s(median(activity)).padStart(8)} ${s(median(own)).padStart(15)} ` +
        `${s(median(activity.map((ms, i) => ms - own[i]))).padStart(12)}`,
    );
  const per = (value: number, count: number) => (count ? (value / count).toFixed(2) : '-');
  const n = Math.max(1, migrated);
  console.log(
    `  CPU seconds per migrated VM: dev server ${per(cpu.server / 1000, n)}, worker ${per(cpu.worker / 1000, n)}, ` +
      `CLI ${per(cpu.cli / 1000, n)}`,
  );
  const guests = Object.entries(starts)
    .filter(([name]) => name.startsWith('guest'))
    .reduce((sum, [, count]) => sum + count, 0);
  const commandS = commandMs / 1000;
  console.log(
    `  processes started per migrated VM: control plane ${per(starts.control, n)}, node ${per(starts.node, n)}, ` +
      `guests ${per(guests, n)} (their commands' own included); per second of guest command: node ` +
      `${per(starts.node, commandS)}, node and guests ${per(starts.node + guests, commandS)} ` +
      `(${s(commandMs)} s of guest commands${starts.lost ? '; some process events were lost' : ''})`,
  );
}
