import { mkdtempSync, rmSync } from 'node:fs';
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
 * [--scale N] [--guests N]]`.
 */
async function benchLabUp(guests: number, rounds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-bench-'));
  try {
    await labUp({ guests: 1 }, dir); // warms the guest image, the OpenClaw cache and the tool bundles
    await labDown(dir);
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = process.hrtime.bigint();
      await labUp({ guests }, dir);
      times.push(Number(process.hrtime.bigint() - started) / 1e9);
      await labDown(dir);
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `lab up --guests ${guests} (warm cache, default data): ` +
        `median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} s, min ${sorted[0].toFixed(2)} s, ` +
        `max ${sorted[sorted.length - 1].toFixed(2)} s over ${rounds} rounds`,
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
  },
});
const benches: Record<string, () => Promise<void>> = {
  'lab-up': () => benchLabUp(3, 3),
  'fleet-lab': () => benchFleetLab(),
  'fleet-large': () => benchLargeFleet(Number(values.vms ?? 500), 3, Number(values['phase-ms'])),
  'fleet-pipeline': () => benchFleetPipeline(Number(values.vms ?? 200), Number(values.scale)),
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
