import { readFileSync } from 'node:fs';
import { guestExec } from '../lab/lab';
import { renderInventory } from '../src/discover/report';
import { DiscoverySourceSchema, InventorySchema } from '../src/inventory';
import { discover } from '../src/workflows';
import { parse } from 'yaml';
import { startLabAndWorker, type LabAndWorker } from './support/lab-and-worker';

/**
 * discover against a one-node lab of two real guests: 105 as the lab seeds it (Docker-era), 106 with its gateway
 * container stopped by hand (half-way). The inventory written holds 105 alone, with the address its agent gives.
 */
describe('discover on a one-node lab', () => {
  let lab: LabAndWorker;
  beforeAll(async () => {
    lab = await startLabAndWorker({ guests: 2 });
  }, 600_000);
  afterAll(async () => lab?.stop());

  it('classifies each VM by what it runs and writes the same inventory twice', async () => {
    const inGuest = (vmid: number, script: string) =>
      guestExec(lab.lab, vmid, ['/bin/bash', '-c', script]).stdout.trim();
    inGuest(106, 'docker stop openclaw-gateway >/dev/null');
    const source = DiscoverySourceSchema.parse(JSON.parse(readFileSync(lab.lab.inventoryPath, 'utf8')));
    const run = () =>
      lab.env.client.workflow.execute(discover, {
        taskQueue: lab.taskQueue,
        workflowId: `discover-${Date.now()}`,
        args: [{ nodes: source.nodes }],
      });
    const report = await run();
    const vms = report.nodes[0].vms;
    expect(vms.map((vm) => [vm.vmid, vm.state])).toEqual([
      [105, 'docker-era'],
      [106, 'half-way'],
    ]);
    expect(vms[0].ip).toBe(source.vms.find((vm) => vm.vmid === 105)?.ip);
    expect(vms[0].release).toBe('2026.2.19');
    expect(vms[1].why).toMatch(
      /^the Docker-era gateway stopped, and no direct gateway running \(.*container openclaw-gateway exited/,
    );
    const written = renderInventory(source, report);
    expect(InventorySchema.parse(parse(written)).vms.map((vm) => vm.vmid)).toEqual([105]);
    expect(renderInventory(source, await run())).toBe(written);
    // read-only: the Docker-era gateway still runs, the stopped one is still stopped
    expect(inGuest(105, "docker inspect -f '{{.State.Status}}' openclaw-gateway")).toBe('running');
    expect(inGuest(106, "docker inspect -f '{{.State.Status}}' openclaw-gateway")).toBe('exited');
  }, 300_000);
});
