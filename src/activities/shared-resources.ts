import { Context } from '@temporalio/activity';
import { failure } from '../failures';
import type { LedgerCommit } from '../migration/contracts';
import { acquireLockSignal, type LockRequest, type SharedResourcesInput } from '../migration/node-lock';
import { keyValues, lastLines, requiredValue, onNode } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * After the migration (SOP §2.3, "串行提交"): the VM's row in the node's bot ledger, with its NAT mappings as the
 * node shows them (only read: the SOP keeps every mapping and the port pool as they are, §1 non-goals, §3).
 */
export const commitLedgerScript = guestScript('commit-ledger.sh');

export async function commitLedgerEntry({ node, ledgerPath, entry }: SharedResourcesInput): Promise<LedgerCommit> {
  const result = await onNode(node, {
    label: 'ledger',
    script: commitLedgerScript,
    args: [
      ledgerPath,
      String(entry.vmid),
      entry.ip,
      entry.mode,
      entry.note,
      String(entry.panelFront),
      String(entry.gatewayFront),
    ],
  });
  if (result.exitCode !== 0) {
    throw failure(
      'LedgerCommitFailed',
      `committing vm ${entry.vmid} to the ledger ${ledgerPath} exited ${result.exitCode}:\n${lastLines(result.stdout + result.stderr)}`,
    );
  }
  const values = keyValues(result.stdout);
  const natMappings = (values.get('nat') ?? []).map((mapping) => {
    const [external, guestPort] = mapping.split(':').map(Number);
    return { external, guestPort };
  });
  const portBlock = natMappings.length ? Math.min(...natMappings.map((m) => m.external)) : undefined;
  return { natMappings, portBlock, row: requiredValue(values, 'row') };
}

/** Queues the calling workflow for the node's lock, starting the lock workflow when none runs (signal-with-start). */
export async function requestSharedResourceLock(lockId: string, request: LockRequest): Promise<void> {
  const { client, info } = Context.current();
  await client.workflow.signalWithStart('sharedResourceLock', {
    workflowId: lockId,
    taskQueue: info.taskQueue,
    args: [{ waiting: [], granted: 0 }],
    signal: acquireLockSignal,
    signalArgs: [request],
  });
}
