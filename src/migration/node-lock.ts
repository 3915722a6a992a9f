import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { SshEndpointSchema, type SshEndpoint } from '../inventory';
import { duration, HOUR, ipAddress, ledgerPath, port, SECOND, strictObject, text, vmid } from '../schema';

/**
 * The node's shared resources (SOP §2.3: NAT rules, the port pool, the bot ledger) are committed by one holder
 * at a time, fleet or no fleet: a lock workflow per node hands out the lock in request order, and since it is a
 * workflow, a crashed worker or a restarted server does not lose who holds it or who waits.
 */

const workflowIdText = text(1000);
const runId = z.string().regex(/^[0-9a-f-]{36}$/, 'a run id');
const token = z.string().regex(/^[0-9a-f-]{36}$/, "the lock's token");

export const LockRequestSchema = strictObject({
  /** the workflow that waits for the lock: it is signalled `lockGranted` */
  requesterId: workflowIdText,
  requesterRunId: runId,
  /** what the holder does, for the lock's status */
  purpose: text(200),
  /** the lock is taken back after this long even without a release (a holder terminated by hand) */
  leaseMs: duration(SECOND, HOUR),
});
export type LockRequest = z.output<typeof LockRequestSchema>;

export const LockGrantSchema = strictObject({ lockId: workflowIdText, token });
export type LockGrant = z.output<typeof LockGrantSchema>;
export const LockReleaseSchema = strictObject({ token });

/** The lock's state as its query shows it: never the holder's token, which is what releases the lock. */
export interface LockStatus {
  holder?: LockRequest & { since: string };
  waiting: LockRequest[];
  granted: number;
}

/** What a lock run hands to the next one when it continues as new. */
export const LockStateSchema = strictObject({
  waiting: z.array(LockRequestSchema).max(10_000),
  granted: z.number().int().min(0),
});
export type LockState = z.output<typeof LockStateSchema>;

export const acquireLockSignal = defineSignal<[LockRequest]>('acquireLock');
export const lockGrantedSignal = defineSignal<[LockGrant]>('lockGranted');
export const releaseLockSignal = defineSignal<[z.output<typeof LockReleaseSchema>]>('releaseLock');
export const lockStatusQuery = defineQuery<LockStatus>('lockStatus');

/**
 * One lock per node: every VM behind it shares its NAT rules, port pool and ledger. Named by the node's host key,
 * not its address, so that two names or addresses of one node (127.0.0.1 and localhost) share one lock.
 */
export function sharedResourceLockId(node: Pick<SshEndpoint, 'hostKeySha256'>): string {
  return `shared-resources-${node.hostKeySha256}`;
}

/** The node's ledger of bots, one row per VM (tab-separated); the lab seeds one, operators keep theirs. */
export const DEFAULT_LEDGER_PATH = '/root/openclaw-bot-ledger.tsv';

/** One VM's row as a migration commits it: every field one TSV cell, no tab or newline to add a row. */
export const LedgerEntrySchema = strictObject({
  vmid,
  ip: ipAddress,
  /** how the bot runs after this commit */
  mode: z.enum(['direct', 'docker']),
  /** what happened, e.g. `migrated, record /root/2026-…md` */
  note: text(500),
  /** the guest ports whose node NAT mappings are looked up (panel front, gateway front) */
  panelFront: port,
  gatewayFront: port,
});

export const SharedResourcesInputSchema = strictObject({
  node: SshEndpointSchema,
  ledgerPath,
  entry: LedgerEntrySchema,
});
export type SharedResourcesInput = z.output<typeof SharedResourcesInputSchema>;
