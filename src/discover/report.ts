import { stringify } from 'yaml';
import { InventoryVmSchema, type Inventory } from '../inventory';
import { oneLine, printable } from '../schema';
import { VM_STATES, type DiscoveredVm, type DiscoveryReport } from './facts';

const gib = (bytes?: number) => (bytes === undefined ? '' : `${(bytes / 1024 ** 3).toFixed(1)}G`);

/** The table discover prints: a VM a line, then each node's counts by state. */
export function renderTable(report: DiscoveryReport): string {
  const header = ['NODE', 'VMID', 'NAME', 'STATE', 'IP', 'RELEASE', 'FREE', 'NAT', 'LEDGER', 'WHY'];
  const rows = report.nodes.flatMap((node) =>
    node.vms.map((vm) => [
      node.name,
      String(vm.vmid),
      vm.name ?? '',
      vm.state,
      vm.ip ?? '',
      vm.release ?? '',
      gib(vm.freeBytes),
      vm.nat.join(','),
      vm.ledgerMode ?? '',
      oneLine(vm.why, 200),
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    printable(cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).trimEnd();
  return [line(header), ...rows.map(line), '', ...report.nodes.map(countsLine)].join('\n');
}

function countsLine(node: DiscoveryReport['nodes'][number]): string {
  if (node.error) return `${node.name}: not read: ${printable(oneLine(node.error, 300))}`;
  const tagged = node.tagError ? `; tags not written: ${printable(oneLine(node.tagError, 300))}` : '';
  const counts = VM_STATES.map((state) => [state, node.vms.filter((vm) => vm.state === state).length] as const)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${state} ${n}`);
  return `${node.name}: ${node.vms.length} VMs${counts.length ? `: ${counts.join(', ')}` : ''}${tagged}`;
}

/**
 * The inventory discover writes: the source's nodes (those read) and settings, and the Docker-era VMs (with the
 * source's own `ssh` and `prestage` for a VM it listed), ordered by node then vmid; every other VM in a comment
 * block, saying why. Nothing in it depends on the time or the order answers came in: the same fleet gives the same
 * file.
 */
export function renderInventory(source: Inventory, report: DiscoveryReport): string {
  const read = report.nodes.filter((node) => !node.error);
  const nodes = Object.fromEntries(read.map((node) => [node.name, source.nodes[node.name]]));
  const sourceVm = (vm: DiscoveredVm) => source.vms.find((v) => v.vmid === vm.vmid && v.node === vm.node);
  const migrating = read.flatMap((node) => node.vms).filter((vm) => vm.state === 'docker-era' && vm.ip);
  const vms = migrating.map((vm) => {
    const known = sourceVm(vm);
    return {
      vmid: vm.vmid,
      ip: vm.ip,
      // a name the inventory would refuse (PVE's are DNS names, so none should be) is left out, not the VM
      ...(vm.name && InventoryVmSchema.shape.name.safeParse(vm.name).success ? { name: vm.name } : {}),
      node: vm.node,
      ...(known?.ssh ? { ssh: known.ssh } : {}),
      ...(known?.prestage !== undefined ? { prestage: known.prestage } : {}),
    };
  });
  const settings: Partial<Inventory> = { ...source };
  delete settings.nodes;
  delete settings.vms;
  const body = stringify({ nodes, ...settings, vms }, { lineWidth: 0 });
  const left = report.nodes.flatMap((node) =>
    node.error
      ? [`node ${node.name}: not read: ${node.error}`]
      : node.vms
          .filter((vm) => !migrating.includes(vm))
          .map(
            (vm) =>
              `${node.name} vm ${vm.vmid}${vm.name ? ` (${vm.name})` : ''}: ${vm.state === 'docker-era' ? 'docker-era, but no address from the agent or the ledger' : `${vm.state}: ${vm.why}`}`,
          ),
  );
  return [
    '# Written by `openclaw-migrate discover`: the Docker-era VMs of the nodes below, for `migrate fleet`.',
    '# Review it first: every VM listed here will be migrated.',
    body.trimEnd(),
    ...(left.length ? ['# Not in this inventory, and why:', ...left.map((line) => `#   ${oneLine(line, 400)}`)] : []),
    '',
  ].join('\n');
}
