import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestExec, labDown, labUp } from '../lab/lab';
import { readInventoryFile } from '../src/inventory-file';
import { migrationId, statusQuery, type MigrationStatus } from '../src/migration/messages';
import { inSeconds } from '../src/migration/outage';
import { runWorker } from '../test/support/temporal';
import { devServer, runFleet } from './fleet';

/**
 * Prints figures, asserts nothing: `npm run bench -- outage [--guests N]`. The same lab fleet (real guests, the
 * realistic install: `npm install -g openclaw` through the lab's registry) migrated twice on fresh guests, in the
 * SOP's order and pre-staged, at concurrency 2. For each: every VM's outage (the guest's clock, as the product
 * measures it), the gateway's own start (its unit's start to its `[gateway] ready`, from the guest's journal), each
 * phase's recorded time beside the run time of its guest commands (seen from inside the guest by
 * scripts/guest-commands.py), and the fleet's makespan; then the ratio of the two orders.
 */
export async function benchOutage(guests: number, concurrency: number): Promise<void> {
  const env = await devServer();
  const { taskQueue, stop } = await runWorker(env);
  try {
    const orders: Order[] = [];
    for (const prestage of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-bench-outage-'));
      try {
        // other vmids for the second order: the first one's runs keep theirs on the same server
        const lab = await labUp({ guests, install: 'registry', firstVmid: prestage ? 205 : 105 }, dir);
        const inventory = readInventoryFile(lab.inventoryPath);
        const vmids = lab.guests.map((guest) => guest.vmid);
        vmids.forEach((vmid) => startWatcher(lab, vmid));
        const { wallMs } = await runFleet(env, taskQueue, {
          inventory: { ...inventory, prestage },
          concurrency,
          canary: 1,
        });
        const vms = await Promise.all(
          vmids.map(async (vmid) => ({
            vmid,
            status: await env.client.workflow.getHandle(migrationId(vmid)).query(statusQuery),
            commands: stopWatcher(lab, vmid),
            gatewayStartMs: gatewayStartMs(lab, vmid),
          })),
        );
        const order = { name: prestage ? 'pre-staged' : 'SOP order', wallMs, vms };
        printOrder(order, concurrency);
        orders.push(order);
      } finally {
        await labDown(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const [sop, prestaged] = orders.map((order) =>
      median(order.vms.flatMap((vm) => (vm.status.outage ? [vm.status.outage.ms] : []))),
    );
    console.log(
      `outage median: SOP order ${inSeconds(sop)}, pre-staged ${inSeconds(prestaged)}: ` +
        `pre-staged/SOP ${(prestaged / sop).toFixed(2)}; makespan pre-staged/SOP ` +
        `${(orders[1].wallMs / orders[0].wallMs).toFixed(2)}`,
    );
  } finally {
    await stop();
    await env.teardown();
  }
}

type LabState = Awaited<ReturnType<typeof labUp>>;

export interface GuestCommandSeen {
  label: string;
  startMs: number;
  endMs: number;
}

interface Order {
  name: string;
  wallMs: number;
  vms: { vmid: number; status: MigrationStatus; commands: GuestCommandSeen[]; gatewayStartMs?: number }[];
}

const WATCHER = readFileSync(join(__dirname, 'scripts/guest-commands.py'), 'utf8');
const WATCHER_UNIT = 'bench-guest-commands';
const WATCHER_OUTPUT = `/run/${WATCHER_UNIT}.jsonl`;

function inGuest(lab: LabState, vmid: number, argv: string[]): string {
  const result = guestExec(lab, vmid, argv);
  if (result.status !== 0) throw new Error(`vm ${vmid}: ${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** The watcher as a transient unit of the guest's systemd: it notes the product's commands until stopped. */
export function startWatcher(lab: LabState, vmid: number): void {
  inGuest(lab, vmid, [
    'systemd-run',
    `--unit=${WATCHER_UNIT}`,
    `--property=StandardOutput=file:${WATCHER_OUTPUT}`,
    'python3',
    '-c',
    WATCHER,
  ]);
}

export function stopWatcher(lab: LabState, vmid: number): GuestCommandSeen[] {
  inGuest(lab, vmid, ['systemctl', 'stop', WATCHER_UNIT]);
  return (
    inGuest(lab, vmid, ['cat', WATCHER_OUTPUT])
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as GuestCommandSeen)
      // the node's wait for a command (src/remote/scripts/guest-pid-wait.sh) is not a command of its own
      .filter((command) => command.label !== 'guest-pid-wait')
  );
}

/** From the direct gateway unit's first start to the gateway's first `[gateway] ready` after it, by the journal. */
function gatewayStartMs(lab: LabState, vmid: number): number | undefined {
  const lines = inGuest(lab, vmid, ['journalctl', '-u', 'openclaw-gateway.service', '-o', 'short-unix', '--no-pager']);
  const timeOf = (pattern: RegExp, after = 0) =>
    lines
      .split('\n')
      .filter((line) => pattern.test(line))
      .map((line) => Number(line.split(' ')[0]) * 1000)
      .find((ms) => ms >= after);
  const started = timeOf(/systemd\[1\]: Started /);
  const ready = started === undefined ? undefined : timeOf(/\[gateway\] ready/, started);
  return started === undefined || ready === undefined ? undefined : ready - started;
}

/** How long at least one of the commands ran. */
export function unionMs(commands: GuestCommandSeen[]): number {
  let total = 0;
  let end = -Infinity;
  for (const { startMs, endMs } of [...commands].sort((a, b) => a.startMs - b.startMs)) {
    total += Math.max(0, endMs - Math.max(startMs, end));
    end = Math.max(end, endMs);
  }
  return total;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
export const s = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '-' : (ms / 1000).toFixed(2));

/** Per phase, each VM's recorded time and the run time of the guest commands that ran within it. */
export function phaseRows(
  vms: { status: MigrationStatus; commands: GuestCommandSeen[] }[],
): Map<string, { recorded: number[]; guest: number[] }> {
  const rows = new Map<string, { recorded: number[]; guest: number[] }>();
  for (const { status, commands } of vms) {
    for (const phase of status.phases) {
      if (!phase.endedAt) continue;
      const [from, to] = [Date.parse(phase.startedAt), Date.parse(phase.endedAt)];
      // a command is the phase's when its middle falls within it (the two clocks are the machine's, read apart);
      // a script's subshells carry its command line too, so the time is the union of what was seen, not the sum
      const own = unionMs(
        commands.filter(
          (command) => from <= (command.startMs + command.endMs) / 2 && (command.startMs + command.endMs) / 2 <= to,
        ),
      );
      const row = rows.get(phase.name) ?? { recorded: [], guest: [] };
      row.recorded.push(to - from);
      row.guest.push(own);
      rows.set(phase.name, row);
    }
  }
  return rows;
}

function printOrder({ name, wallMs, vms }: Order, concurrency: number): void {
  console.log(`\n${name}: ${vms.length} VMs at concurrency ${concurrency}, makespan ${s(wallMs)} s`);
  for (const { vmid, status, gatewayStartMs } of vms)
    console.log(
      `  vm ${vmid}: ${status.phase}, outage ${s(status.outage?.ms)} s, the gateway's own start ${s(gatewayStartMs)} s`,
    );
  const rows = phaseRows(vms);
  console.log(`  ${'phase (median over VMs)'.padEnd(44)} recorded   guest commands   overhead`);
  for (const [phase, { recorded, guest }] of rows) {
    const overhead = recorded.map((ms, i) => ms - guest[i]);
    console.log(
      `  ${phase.padEnd(44)} ${s(median(recorded)).padStart(8)} ${s(median(guest)).padStart(16)} ${s(median(overhead)).padStart(10)}`,
    );
  }
}
