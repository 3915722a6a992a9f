import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { labDown, labUp } from '../lab/lab';
import { benchCommand } from './command';
import { benchLargeFleet } from './fleet';
import { benchFleetLab } from './fleet-lab';
import { benchFleetPipeline } from './fleet-pipeline';
import { benchOutage } from './outage';

/**
 * Prints figures, asserts nothing:
 * `npm run bench [-- lab-up|fleet-lab|fleet-large|fleet-pipeline|command|outage [--vms N] [--phase-ms N]
 * [--scale N] [--one-at-a-time] [--guests N]]`.
 */
/** CPU seconds the lab's guests have used so far: their boot scripts' cgroups (lab/nspawn-boot.sh) hold it all. */
function guestsCpuSeconds(state: Awaited<ReturnType<typeof labUp>>): number {
  return state.guests
    .map((guest) => readFileSync(join(guest.booted.container.machineDir, 'cgroup'), 'utf8').trim())
    .map((cgroup) => Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(cgroup, 'cpu.stat'), 'utf8'))?.[1]) / 1e6)
    .reduce((sum, seconds) => sum + seconds, 0);
}

/** The whole machine's busy CPU seconds so far (/proc/stat: all but idle and iowait), other users' work included. */
function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks;
  return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function benchLabUp(guests: number, rounds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-bench-'));
  try {
    await labUp({ guests: 1 }, dir); // warms the guest image, the OpenClaw cache and the tool bundles
    await labDown(dir);
    const times: number[] = [];
    const guestCpu: number[] = [];
    const machineCpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = process.hrtime.bigint();
      const busy = machineBusySeconds();
      const state = await labUp({ guests }, dir);
      times.push(Number(process.hrtime.bigint() - started) / 1e9);
      machineCpu.push(machineBusySeconds() - busy);
      guestCpu.push(guestsCpuSeconds(state));
      await labDown(dir);
    }
    console.log(
      `lab up --guests ${guests} (warm cache, default data): ` +
        `median ${median(times).toFixed(2)} s, min ${Math.min(...times).toFixed(2)} s, ` +
        `max ${Math.max(...times).toFixed(2)} s over ${rounds} rounds; ` +
        `CPU: the guests' median ${median(guestCpu).toFixed(1)} s (${guestCpu.map((s) => s.toFixed(1)).join(', ')}), ` +
        `the machine's busy median ${median(machineCpu).toFixed(1)} s, every user's (load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]})`,
    );
  } finally {
    await labDown(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    vms: { type: 'string' },
    'phase-ms': { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    pve: { type: 'string', default: '9' },
    guests: { type: 'string', default: '3' },
    scale: { type: 'string', default: '250' },
    'one-at-a-time': { type: 'boolean', default: false },
  },
});
const benches: Record<string, () => Promise<void>> = {
  'lab-up': () => benchLabUp(3, 3),
  'fleet-lab': () => benchFleetLab(),
  'fleet-large': () => benchLargeFleet(Number(values.vms ?? 500), 3, Number(values['phase-ms'])),
  'fleet-pipeline': () =>
    benchFleetPipeline(Number(values.vms ?? 200), Number(values.scale), values['one-at-a-time'] ?? false),
  command: () => benchCommand(Number(values.rounds), values.pve === '8' ? '8' : '9'),
  outage: () => benchOutage(Number(values.guests), 2),
};
(async () => {
  // the SDK's INFO lines would bury the figures
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const chosen = positionals.length ? positionals : Object.keys(benches);
  for (const name of chosen) {
    const bench = benches[name];
    if (!bench) throw new Error(`unknown benchmark '${name}': ${Object.keys(benches).join(', ')}`);
    await bench();
  }
})().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
