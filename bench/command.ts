import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp } from '../lab/lab';
import { soleNode } from '../src/inventory';
import { readInventoryFile } from '../src/inventory-file';
import { QgaGuest, nodeFor, sshPool, type GuestCommand } from '../src/remote';

/**
 * Prints figures, asserts nothing: for guest commands of known length, the guest command's own run time (its
 * clock, from its first line to its last) next to the time the product observed (QgaGuest.run(), start to
 * result) and, for reference, SOP-style synchronous `qm guest exec --timeout 0` (qm's own 1 s poll loop), on a
 * real guest (systemd, qemu-ga 7.2) behind the lab's node. `npm run bench -- command [--rounds N] [--pve 8|9]`.
 */
export async function benchCommand(rounds: number, pve: '8' | '9'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-bench-command-'));
  try {
    const lab = await labUp({ guests: 1, workspaceFiles: 5, bigFileMiB: 0, pve }, dir);
    const inventory = readInventoryFile(lab.inventoryPath);
    const vmid = lab.guests[0].vmid;
    const guest = new QgaGuest(sshPool, vmid, soleNode(inventory));
    const node = nodeFor(soleNode(inventory));
    console.log(
      `guest commands on vm ${vmid} (real guest) through the lab's qm (PVE ${pve} wording), ${rounds} rounds:`,
    );
    const pings: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const begun = performance.now();
      await node.qm(['guest', 'cmd', String(vmid), 'ping']);
      pings.push(performance.now() - begun);
    }
    // the unit the overheads are made of: a start and a last status are a qm call each
    console.log(`one qm call over SSH (qm guest cmd ${vmid} ping): median ${seconds(median(pings))} s`);
    console.log('command                         own (guest)   product   overhead   qm --timeout 0   overhead');
    for (const { name, body, stdin } of COMMANDS) {
      const own: number[] = [];
      const product: number[] = [];
      const sync: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const command: GuestCommand = { label: 'bench', script: timed(body), stdin, timeoutMs: 120_000 };
        const begun = performance.now();
        const result = await guest.run(command);
        product.push(performance.now() - begun);
        own.push(ownMs(result.stderr));

        const syncBegun = performance.now();
        const qm = await node.qm([
          'guest',
          'exec',
          String(vmid),
          '--timeout',
          '0',
          ...(stdin === undefined ? [] : ['--pass-stdin', '1']),
          '--',
          '/bin/bash',
          '-c',
          command.script,
          command.label,
        ]);
        sync.push(performance.now() - syncBegun);
        if (qm.exitCode !== 0) throw new Error(`qm guest exec --timeout 0 failed: ${qm.stderr}`);
      }
      const ownMedian = median(own);
      console.log(
        `${name.padEnd(30)} ${seconds(ownMedian).padStart(9)}   ${seconds(median(product)).padStart(7)}   ` +
          `${seconds(median(product) - ownMedian).padStart(8)}   ${seconds(median(sync)).padStart(14)}   ` +
          `${seconds(median(sync) - ownMedian).padStart(8)}`,
      );
    }
    console.log('(medians in seconds; overhead = observed − own: qm and SSH round trips, bash start, the wait)');
  } finally {
    await sshPool.close();
    await labDown(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lengths of the phases the issue measured (panel ~1.1 s, install 6–9 s), a fast one, and stdin and output. */
const COMMANDS: { name: string; body: string; stdin?: string }[] = [
  { name: 'true', body: 'true' },
  { name: 'sleep 0.3', body: 'sleep 0.3' },
  { name: 'sleep 1.1 (the panel)', body: 'sleep 1.1' },
  { name: 'sleep 2.5', body: 'sleep 2.5' },
  { name: 'sleep 7 (the install)', body: 'sleep 7' },
  { name: '512 KiB stdin to sha256sum', body: 'sha256sum >/dev/null', stdin: 'x'.repeat(512 * 1024) },
  { name: '4 MiB of output', body: 'head -c 3145728 /dev/zero | base64 -w 0' },
];

/** The body between two readings of the guest's clock, printed last on stderr. */
function timed(body: string): string {
  return `begun=$EPOCHREALTIME\n${body}\necho "bench-own $begun $EPOCHREALTIME" >&2\n`;
}

function ownMs(stderr: string): number {
  const match = /bench-own (\S+) (\S+)\s*$/.exec(stderr);
  if (!match) throw new Error(`no timing in the command's stderr: ${stderr.slice(-200)}`);
  const at = (text: string) => Number(text.replace(',', '.')) * 1000;
  return at(match[2]) - at(match[1]);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const seconds = (ms: number) => (ms / 1000).toFixed(2);
