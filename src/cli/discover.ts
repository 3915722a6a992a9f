import { rename, writeFile } from 'node:fs/promises';
import { DiscoverInputSchema } from '../discover/input';
import { renderInventory, renderTable } from '../discover/report';
import { DiscoverySourceSchema } from '../inventory';
import { parseInput } from '../migration/input';
import { InputRefused, printable } from '../schema';
import type { discover } from '../workflows';
import { asRefusal, printTemporalEquivalent, exitCodes, readInventory, withClient, type Command } from './common';

export const discoverCommand: Command = {
  summary:
    "read-only: classify every VM of the inventory's nodes (or --node NAME's), print them and write an inventory of the Docker-era ones: discover [--out FILE] [--tag]",
  async run({ config, options }) {
    const source = await readInventory(options, DiscoverySourceSchema);
    if (options.node !== undefined && !(options.node in source.nodes))
      throw new InputRefused(
        `--node ${printable(options.node)} is not in the inventory's nodes (${Object.keys(source.nodes).join(', ')})`,
      );
    const nodes = options.node === undefined ? source.nodes : { [options.node]: source.nodes[options.node] };
    const input = asRefusal(() =>
      parseInput(DiscoverInputSchema, { nodes, tag: options.tag ?? false }, 'discover input'),
    );
    const workflowId = `discover-${Date.now()}`;
    printTemporalEquivalent(
      [
        'execute',
        '--type',
        'discover',
        '--task-queue',
        config.taskQueue,
        '--workflow-id',
        workflowId,
        '--input',
        JSON.stringify(input),
      ],
      config,
      workflowId,
    );
    const report = await withClient(config, (client) =>
      client.workflow.execute<typeof discover>('discover', { taskQueue: config.taskQueue, workflowId, args: [input] }),
    );
    console.log(options.json ? JSON.stringify(report) : renderTable(report));
    const out = options.out;
    // written whole or not at all: a reviewer never reads half an inventory
    await writeFile(`${out}.tmp`, renderInventory({ ...source, nodes }, report), { mode: 0o600 });
    await rename(`${out}.tmp`, out);
    const count = report.nodes.flatMap((node) => node.vms).filter((vm) => vm.state === 'docker-era').length;
    console.error(
      `wrote ${out}: ${count} Docker-era VM${count === 1 ? '' : 's'}; review it, then: migrate fleet --inventory ${out}`,
    );
    return report.nodes.some((node) => node.error) ? exitCodes.failed : exitCodes.ok;
  },
};
