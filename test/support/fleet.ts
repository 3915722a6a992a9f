import type { Client, WorkflowHandle } from '@temporalio/client';
import { fleetStatusQuery } from '../../src/fleet/messages';
import { InventorySchema, type Inventory } from '../../src/inventory';
import { approveSignal } from '../../src/migration/messages';
import type { migrateFleet } from '../../src/workflows';

/** A fleet of `count` VMs (vmid 1000, 1001, …) behind a node no one connects to: for stand-in activities. */
export function standInInventory(count: number): Inventory {
  return InventorySchema.parse({
    node: { host: '127.0.0.1', port: 22, user: 'root', hostKeySha256: `SHA256:${'A'.repeat(43)}` },
    panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4', baseUrl: 'http://127.0.0.1' },
    vms: Array.from({ length: count }, (_, i) => ({ vmid: 1000 + i, ip: `10.20.${i >> 8}.${i & 255}` })),
  });
}

/** Approves every VM that awaits approval, as an operator with `approve --fleet` in a loop would. */
export function approveAsTheyArrive(client: Client, handle: WorkflowHandle<typeof migrateFleet>): () => Promise<void> {
  let stopped = false;
  const approved = new Set<number>();
  const loop = (async () => {
    while (!stopped) {
      const status = await handle.query(fleetStatusQuery).catch(() => undefined);
      for (const vm of status?.vms ?? []) {
        if (vm.state !== 'running' || vm.phase !== 'awaiting-approval' || approved.has(vm.vmid)) continue;
        approved.add(vm.vmid);
        await client.workflow
          .getHandle(vm.workflowId!)
          .signal(approveSignal, { by: 'bench', reason: 'benchmark' })
          .catch(() => approved.delete(vm.vmid));
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}
