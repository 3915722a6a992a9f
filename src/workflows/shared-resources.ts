import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import { parseInput } from '../migration/input';
import {
  acquireLockSignal,
  LockGrantSchema,
  lockGrantedSignal,
  LockReleaseSchema,
  LockRequestSchema,
  LockStateSchema,
  lockStatusQuery,
  releaseLockSignal,
  sharedResourceLockId,
  SharedResourcesInputSchema,
  type LedgerCommit,
  type LockGrant,
  type LockRequest,
  type LockState,
  type SharedResourcesInput,
} from '../migration/shared-resources';
import { takeValid } from './message-checks';

/** A lock run ends after this long without requests; the next request starts a new one. */
const IDLE_MS = 10 * 60_000;
/** Grants per run before it continues as new, which keeps each run's history short. */
const GRANTS_PER_RUN = 200;
/** Longer than a commit can take with all its retries: after it, a holder that never released loses the lock. */
const LEASE_MS = 15 * 60_000;

/** The node's shared-resource lock: grants in request order, one holder at a time (the samples' mutex). */
export async function sharedResourceLock(state: LockState): Promise<void> {
  const params = parseInput(LockStateSchema, state, 'sharedResourceLock input');
  const waiting = [...params.waiting];
  let granted = params.granted;
  let holder: (LockRequest & { token: string; since: string }) | undefined;
  let released = false;
  setHandler(
    acquireLockSignal,
    takeValid(LockRequestSchema, 'acquireLock', (request) => {
      // a retried request (the requester's activity ran twice) queues once
      const queued = [holder, ...waiting].some((r) => r?.requesterRunId === request.requesterRunId);
      if (!queued) waiting.push(request);
    }),
  );
  // the token is only in the grant the holder's run received: the query never shows it
  setHandler(
    releaseLockSignal,
    takeValid(LockReleaseSchema, 'releaseLock', ({ token }) => void (released ||= holder?.token === token)),
  );
  setHandler(lockStatusQuery, () => ({ holder: holder && withoutToken(holder), waiting, granted }));

  for (let grantsThisRun = 0; ; grantsThisRun++) {
    if (!(await condition(() => waiting.length > 0, IDLE_MS))) return;
    if (grantsThisRun >= GRANTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof sharedResourceLock>({ waiting, granted });
    }
    const request = waiting.shift()!;
    holder = { ...request, token: uuid4(), since: new Date().toISOString() };
    released = false;
    try {
      await getExternalWorkflowHandle(request.requesterId, request.requesterRunId).signal(lockGrantedSignal, {
        lockId: workflowInfo().workflowId,
        token: holder.token,
      });
      if (!(await condition(() => released, request.leaseMs))) {
        log.warn('shared-resource lock taken back: its lease ran out', { holder: withoutToken(holder) });
      }
      granted++;
    } catch (err) {
      log.info('the lock requester has gone; next', { requester: request.requesterId, error: String(err) });
    }
    holder = undefined;
  }
}

function withoutToken({ requesterId, requesterRunId, purpose, leaseMs, since }: LockRequest & { since: string }) {
  return { requesterId, requesterRunId, purpose, leaseMs, since };
}

const { requestSharedResourceLock, commitLedgerEntry } = proxyActivities<typeof activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', maximumAttempts: 5 },
  // a cancelled commit is waited for: the lock is released only once nothing writes the ledger any more
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
/** How long a request waits for its grant before it is sent again (a lock run terminated by hand forgets it). */
const REQUEST_AGAIN_MS = 5 * 60_000;

/**
 * Commits one VM's row to the node's ledger under the node's lock, and releases the lock whatever happens. A
 * workflow of its own (a child of migrateVm), so its wait for the lock shows in the UI on its own.
 */
export async function commitSharedResources(input: SharedResourcesInput): Promise<LedgerCommit> {
  input = parseInput(SharedResourcesInputSchema, input, 'commitSharedResources input');
  const lockId = sharedResourceLockId(input.node);
  let grant: LockGrant | undefined;
  // only the lock this commit asked for grants it
  setHandler(
    lockGrantedSignal,
    takeValid(LockGrantSchema, 'lockGranted', (g) => void (g.lockId === lockId && (grant = g))),
  );
  const { workflowId, runId } = workflowInfo();
  const request = {
    requesterId: workflowId,
    requesterRunId: runId,
    purpose: `ledger row of vm ${input.entry.vmid}: ${input.entry.mode}`,
    leaseMs: LEASE_MS,
  };
  // the lock keeps one request per run however often it is sent
  while (grant === undefined) {
    await requestSharedResourceLock(lockId, request);
    await condition(() => grant !== undefined, REQUEST_AGAIN_MS);
  }
  try {
    return await commitLedgerEntry(input);
  } finally {
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(lockId).signal(releaseLockSignal, { token: grant!.token }),
    );
  }
}
