/**
 * What the Temporal UI shows of a run beside its history: a static summary given when the run starts (which VM,
 * which fleet) and current details that follow it (the phase, what it waits for, the last acceptance). Both are
 * Temporal user metadata; the details are answered by the SDK's built-in metadata query, so they never enter the
 * history. Pure functions: the workflows, the CLI and the tests share them.
 */
import { oneLine } from '../schema';
import type { FleetNode, FleetStatus, FleetVmState } from '../fleet/messages';
import type { MigrationStatus } from './messages';
import { phases } from './phases';

export function migrationSummary(vm: {
  vmid: number;
  name?: string;
  node?: string;
  fleetId?: string;
  dryRun?: boolean;
}): string {
  const what = vm.dryRun ? 'Dry run of VM' : 'Migration of VM';
  const name = vm.name ? ` (${oneLine(vm.name, 64)})` : '';
  const node = vm.node ? ` on node ${oneLine(vm.node, 253)}` : '';
  return `${what} ${vm.vmid}${name}${node} from Docker to the direct install${vm.fleetId ? `, fleet ${vm.fleetId}` : ''}`;
}

export function migrationDetails(status: MigrationStatus): string {
  // a phase of the table is named with its place in the SOP, which the operator follows alongside
  const phase = phases.find((p) => p.name === status.phase);
  const where = phase && ` (SOP ${phase.sop}${'stage' in phase ? `, stage ${phase.stage}` : ''})`;
  const lines = [`**Phase:** ${status.phase}${where ?? ''}`];
  if (status.waitingFor) lines.push(`**Waiting for:** ${oneLine(status.waitingFor, 300)}`);
  const acceptance = status.results.acceptance;
  if (acceptance) lines.push(`**Acceptance:** passed (${Object.keys(acceptance.checks).length} checks)`);
  else if (status.phases.some((p) => p.name === 'acceptance' && p.status === 'failed'))
    lines.push(
      `**Acceptance:** failed: ${oneLine(status.phases.find((p) => p.name === 'acceptance')!.error ?? '', 300)}`,
    );
  if (!status.fleetGate.open) lines.push(`**Fleet gate:** closed (${oneLine(status.fleetGate.reason, 200)})`);
  if (status.approval) lines.push(`**Decision:** ${status.approval.decision} by ${status.approval.by}`);
  return lines.join('\n\n');
}

export function fleetSummary(fleet: { fleetId: string; vms: number; concurrency: number; dryRun: boolean }): string {
  return `${fleet.dryRun ? 'Dry run of' : 'Migration of'} fleet ${fleet.fleetId}: ${fleet.vms} VMs, ${fleet.concurrency} at a time`;
}

/** Each node of a fleet: its VMs in flight of how many it takes, and whether its canary is done. */
export function nodesLine(nodes: readonly FleetNode[]): string {
  return nodes
    .map(
      (node) =>
        `${oneLine(node.name, 253)} ${node.inFlight} of ${node.concurrency} in flight, ` +
        `${node.vms} VMs, canary ${node.canaryDone ? 'done' : 'pending'}`,
    )
    .join('; ');
}

export function fleetDetails(status: FleetStatus): string {
  const counts = new Map<FleetVmState, number>();
  for (const vm of status.vms) counts.set(vm.state, (counts.get(vm.state) ?? 0) + 1);
  const awaiting = status.vms.filter((vm) => vm.phase === 'awaiting-approval').map((vm) => vm.vmid);
  const lines = [
    `**VMs:** ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`,
    `**Gate:** ${status.gate.open ? 'open' : 'closed'} (${oneLine(status.gate.reason, 200)})`,
  ];
  if (status.nodes && status.nodes.length > 1) lines.push(`**Nodes:** ${nodesLine(status.nodes)}`);
  if (awaiting.length) lines.push(`**Awaiting approval:** ${awaiting.join(', ')}`);
  const inWindow = status.vms.filter((vm) => vm.phase === 'awaiting-window').map((vm) => vm.vmid);
  if (inWindow.length) lines.push(`**Awaiting their maintenance window:** ${inWindow.join(', ')}`);
  if (status.prestageAhead !== undefined) {
    const held = status.vms.filter((vm) => vm.phase === 'awaiting-cutover-slot').map((vm) => vm.vmid);
    const line = `**In their cutover:** ${status.inCutover ?? 0} of ${status.concurrency}`;
    lines.push(held.length ? `${line}; pre-staged, awaiting a slot: ${held.join(', ')}` : line);
  }
  if (status.stoppedStarting) lines.push(`**Starts no more VMs:** ${oneLine(status.stoppedStarting, 300)}`);
  return lines.join('\n\n');
}
