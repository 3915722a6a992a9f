import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SshEndpoint } from '../inventory';

/**
 * The node's shared resources (SOP §2.3: NAT rules, the port pool, the bot ledger) are committed by one holder
 * at a time, fleet or no fleet: a lock workflow per node hands out the lock in request order, and since it is a
 * workflow, a crashed worker or a restarted server does not lose who holds it or who waits.
 */

export interface LockRequest {
  /** the workflow that waits for the lock: it is signalled `lockGranted` */
  requesterId: string;
  requesterRunId: string;
  /** what the holder does, for the lock's status */
  purpose: string;
  /** the lock is taken back after this long even without a release (a holder terminated by hand) */
  leaseMs: number;
}

export interface LockGrant {
  lockId: string;
  token: string;
}

export interface LockStatus {
  holder?: LockRequest & { token: string; since: string };
  waiting: LockRequest[];
  granted: number;
}

/** What a lock run hands to the next one when it continues as new. */
export interface LockState {
  waiting: LockRequest[];
  granted: number;
}

export const acquireLockSignal = defineSignal<[LockRequest]>('acquireLock');
export const lockGrantedSignal = defineSignal<[LockGrant]>('lockGranted');
export const releaseLockSignal = defineSignal<[{ token: string }]>('releaseLock');
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

/** One VM's row as a migration commits it. */
export interface LedgerEntry {
  vmid: number;
  ip: string;
  /** how the bot runs after this commit */
  mode: 'direct' | 'docker';
  /** what happened, e.g. `migrated, record /root/2026-…md` */
  note: string;
  /** the guest ports whose node NAT mappings are looked up (panel front, gateway front) */
  panelFront: number;
  gatewayFront: number;
}

export interface SharedResourcesInput {
  node: SshEndpoint;
  ledgerPath: string;
  entry: LedgerEntry;
}

/** The VM's node-side view after the commit: its NAT mappings (external port → guest port) and its ledger row. */
export interface LedgerCommit {
  natMappings: { external: number; guestPort: number }[];
  /** the lowest external port mapped to the VM: the start of its port block */
  portBlock?: number;
  row: string;
}
