import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import type { LedgerCommit } from '../migration/contracts';
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
  type LockGrant,
  type LockRequest,
  type LockState,
  type SharedResourcesInput,
} from '../migration/node-lock';
import { takeValid } from './message-checks';
import { patches } from './patches';

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
  // Runs started before this were released by a token from the grant; since, by their holder's run ending alone.
  const heldUntilItsHolderEnds = patched(patches.lockHeldUntilItsHolderEnds);
  setHandler(
    acquireLockSignal,
    takeValid(LockRequestSchema, 'acquireLock', (request) => {
      // a retried request (the requester's activity ran twice) queues once
      const queued = [holder, ...waiting].some((r) => r?.requesterRunId === request.requesterRunId);
      if (!queued) waiting.push(request);
    }),
  );
  // the token is in the grant, so in the holder's history: since the patch, no message releases the lock
  setHandler(
    releaseLockSignal,
    takeValid(LockReleaseSchema, 'releaseLock', ({ token }) => {
      if (heldUntilItsHolderEnds) log.info("ignored 'releaseLock': the lock is released when its holder's run ends");
      else released ||= holder?.token === token;
    }),
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
      const releasedInTime = heldUntilItsHolderEnds
        ? await holderRunEnds(request)
        : await condition(() => released, request.leaseMs);
      if (!releasedInTime)
        log.warn('shared-resource lock taken back: its lease ran out', { holder: withoutToken(holder) });
      granted++;
    } catch (err) {
      log.info('the lock requester has gone; next', { requester: request.requesterId, error: String(err) });
    }
    holder = undefined;
  }
}

/**
 * Whether the holder's run ended within its lease: read from the server (describe) by the run id it requested
 * with, so that nothing another workflow or client can send releases the lock early. A run that is not a
 * commitSharedResources (a forged request naming some other run) holds nothing and is let go at once.
 */
function holderRunEnds({ requesterId, requesterRunId, leaseMs }: LockRequest): Promise<boolean> {
  const { awaitHolderEnd } = proxyActivities<typeof activities>({
    scheduleToCloseTimeout: leaseMs,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  });
  return awaitHolderEnd(requesterId, requesterRunId, 'commitSharedResources').then(
    (ended) => (log.info('the lock holder has ended', { ended }), true),
    () => false,
  );
}

function withoutToken({ requesterId, requesterRunId, purpose, leaseMs, since }: LockRequest & { since: string }) {
  return { requesterId, requesterRunId, purpose, leaseMs, since };
}

const { requestSharedResourceLock, commitLedgerEntry, holdsLock } = proxyActivities<typeof activities>({
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
  // Runs before this believed any grant naming their lock; since, only one the lock's own state confirms.
  const heldUntilItsHolderEnds = patched(patches.lockHeldUntilItsHolderEnds);
  // only the lock this commit asked for grants it
  setHandler(
    lockGrantedSignal,
    takeValid(LockGrantSchema, 'lockGranted', (g) => void (g.lockId === lockId && (grant ??= g))),
  );
  const { workflowId, runId } = workflowInfo();
  const request = {
    requesterId: workflowId,
    requesterRunId: runId,
    purpose: `ledger row of vm ${input.entry.vmid}: ${input.entry.mode}`,
    leaseMs: LEASE_MS,
  };
  // the lock keeps one request per run however often it is sent
  for (let held = false; !held;) {
    await requestSharedResourceLock(lockId, request);
    await condition(() => grant !== undefined, REQUEST_AGAIN_MS);
    held = grant !== undefined && (!heldUntilItsHolderEnds || (await holdsLock(lockId, runId)));
    // a grant the lock does not confirm was sent by someone else: wait for the lock's own
    if (!held && grant) log.warn('ignored a grant the lock does not confirm', { lockId });
    if (!held) grant = undefined;
  }
  try {
    return await commitLedgerEntry(input);
  } finally {
    // what releases a lock from before `lockHeldUntilItsHolderEnds`; a lock since ends its hold as this run ends
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(lockId).signal(releaseLockSignal, { token: grant!.token }),
    );
  }
}
