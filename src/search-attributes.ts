import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes the workflows keep current; the dev server registers every one of them. */
export const VmIdAttribute = defineSearchAttributeKey('VmId', SearchAttributeType.KEYWORD);
export const MigrationPhaseAttribute = defineSearchAttributeKey('MigrationPhase', SearchAttributeType.KEYWORD);

/** The fleet a migration belongs to (its migrateFleet workflow id), for batch signals such as fleet approvals. */
export const FleetIdAttribute = defineSearchAttributeKey('FleetId', SearchAttributeType.KEYWORD);

/** The Proxmox node a migration's VM is on, as the inventory names it (issue 22): a fleet's VMs by node. */
export const NodeNameAttribute = defineSearchAttributeKey('NodeName', SearchAttributeType.KEYWORD);

export const searchAttributes = [VmIdAttribute, MigrationPhaseAttribute, FleetIdAttribute, NodeNameAttribute];

/** The dev server's `--search-attribute` values, e.g. `VmId=Keyword`. */
export function devServerSearchAttributeFlags(): string[] {
  const cliTypeNames: Record<string, string> = { [SearchAttributeType.KEYWORD]: 'Keyword' };
  return searchAttributes.map((key) => `${key.name}=${cliTypeNames[key.type]}`);
}
