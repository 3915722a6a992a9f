import { nodeEndpoint, type Inventory } from '../inventory';
import type { MigrateVmInput } from './input';

/** What a fleet or the CLI may set on top of the inventory for each VM (VmOverridesSchema checks a fleet's). */
export type VmOverrides = Pick<
  MigrateVmInput,
  'ports' | 'runAs' | 'timeouts' | 'dryRun' | 'removeImages' | 'prestage' | 'startedBy' | 'approvers' | 'fourEyes'
>;

/**
 * One VM's migrateVm input from a fleet inventory, reached through its own node (and that node's ledger); `overrides` wins (timeouts, run-as user, dry run, …), and a VM's
 * own `prestage`, `window` and `openclawVersion` win over the inventory's.
 */
export function migrateVmInputFor(inventory: Inventory, vmid: number, overrides: VmOverrides = {}): MigrateVmInput {
  const vm = inventory.vms.find((candidate) => candidate.vmid === vmid);
  if (!vm)
    throw new Error(`vmid ${vmid} is not in the inventory (it has ${inventory.vms.map((v) => v.vmid).join(', ')})`);
  const prestage = vm.prestage ?? inventory.prestage;
  const window = vm.window ?? inventory.window;
  const openclawVersion = vm.openclawVersion ?? inventory.openclawVersion;
  const node = inventory.nodes[vm.node];
  return {
    vmid,
    vmIp: vm.ip,
    node: nodeEndpoint(node),
    nodeName: vm.node,
    transport: vm.ssh ? 'ssh' : 'qga',
    vmSsh: vm.ssh,
    panelRelease: inventory.panelRelease,
    ...(inventory.installCommand ? { installCommand: inventory.installCommand } : {}),
    ...(openclawVersion ? { openclawVersion } : {}),
    ...(node.ledgerPath ? { ledgerPath: node.ledgerPath } : {}),
    ...(inventory.removeImages !== undefined ? { removeImages: inventory.removeImages } : {}),
    ...(prestage !== undefined ? { prestage } : {}),
    ...(window ? { window } : {}),
    ...(inventory.approvers ? { approvers: inventory.approvers } : {}),
    ...(inventory.fourEyes !== undefined ? { fourEyes: inventory.fourEyes } : {}),
    ...overrides,
  };
}
