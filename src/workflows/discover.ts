import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import { z } from 'zod';
import type * as activities from '../activities';
import type { DiscoveredVm, DiscoveryReport } from '../discover/facts';
import { DiscoverInputSchema } from '../discover/input';
import type { InventoryNode } from '../inventory';
import { parseInput } from '../migration/input';
import { oneLine } from '../schema';

const { discoverNode, tagDiscoveredVms } = proxyActivities<typeof activities>({
  // a node of hundreds of VMs, four at a time, each a few qm calls and one short guest command
  startToCloseTimeout: '30 minutes',
  // the activity heartbeats after each VM; one VM takes two qm calls of at most a minute each
  heartbeatTimeout: '5 minutes',
  retry: { maximumAttempts: 3, initialInterval: '5 seconds' },
});

/**
 * `discover`: reads every node given, `nodesAtOnce` at a time, and classifies each VM (src/discover/facts.ts).
 * Read-only, but for `tag`, which writes each VM's state as a Proxmox tag once its node has been read. A node that
 * cannot be read is reported with why; the others are not held up by it.
 */
export async function discover(...input: unknown[]): Promise<DiscoveryReport> {
  const [params] = parseInput(z.tuple([DiscoverInputSchema]), input, 'discover input');
  const names = Object.keys(params.nodes);
  const results = new Map<string, DiscoveryReport['nodes'][number]>();
  let next = 0;
  const lane = async () => {
    for (let name = names[next++]; name !== undefined; name = names[next++])
      results.set(name, await readNode(name, params.nodes[name], params.tag));
  };
  await Promise.all(Array.from({ length: Math.min(params.nodesAtOnce, names.length) }, lane));
  return { nodes: names.map((name) => results.get(name)!) };
}

async function readNode(name: string, node: InventoryNode, tag: boolean): Promise<DiscoveryReport['nodes'][number]> {
  let vms: DiscoveredVm[];
  try {
    vms = await discoverNode({ name, node });
  } catch (err) {
    return { name, error: why(err), vms: [] };
  }
  if (!tag) return { name, vms };
  try {
    await tagDiscoveredVms({ node, vms });
    return { name, vms };
  } catch (err) {
    return { name, vms, tagError: why(err) };
  }
}

function why(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : err;
  return oneLine(cause instanceof Error ? `${cause.message}` : String(cause), 1000);
}
