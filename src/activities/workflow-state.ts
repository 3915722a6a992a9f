import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { gateForChildrenQuery, type ChildProgress, type GateForChildren } from '../fleet/messages';
import { oneLine } from '../schema';
import { statusQuery } from '../migration/messages';
import { lockStatusQuery } from '../migration/node-lock';

/**
 * What one workflow learns of another from the server and the other's own state, never from a message whose sender
 * it cannot know: a run is named by the id and run id the server gave it (a child's parent, a fleet's child, a
 * lock's holder), and read by describe and query.
 */

/** A run that has ended, or never was, answers this instead. */
export interface Gone {
  gone: string;
}

const handleOf = (workflowId: string, runId: string) =>
  Context.current().client.workflow.getHandle(workflowId, runId, { followRuns: false });

/** Why the run is not running (ended, or not on this server), or undefined while it runs; and its type. */
async function notRunning(workflowId: string, runId: string): Promise<{ gone?: string; type?: string }> {
  try {
    const { status, type } = await handleOf(workflowId, runId).describe();
    return status.name === 'RUNNING' ? { type } : { gone: `${workflowId} has ended (${status.name.toLowerCase()})` };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { gone: `${workflowId} (run ${runId}) is not on this server` };
    throw err;
  }
}

/**
 * A fleet's gate, read from the fleet run that started the asking child (its parent). A parent that is not a fleet
 * has no gate to give: it counts as gone, so that the child does not ask it forever.
 */
export async function readFleetGate(fleetId: string, fleetRunId: string): Promise<GateForChildren | Gone> {
  const { gone, type } = await notRunning(fleetId, fleetRunId);
  if (gone) return { gone };
  if (type !== 'migrateFleet') return { gone: `its parent ${fleetId} is a ${type}, not a fleet` };
  return handleOf(fleetId, fleetRunId).query(gateForChildrenQuery);
}

/** A child's phase, read from the child run its fleet started. */
export async function readChildProgress(workflowId: string, runId: string): Promise<ChildProgress | Gone> {
  const { gone } = await notRunning(workflowId, runId);
  if (gone) return { gone };
  const status = await handleOf(workflowId, runId).query(statusQuery);
  const problem = status.problems.at(-1);
  return {
    phase: status.phase,
    ...(status.waitingFor !== undefined && { waitingFor: oneLine(status.waitingFor, 1000) }),
    ...(problem !== undefined && { problem: oneLine(problem, 1000) }),
    ...(status.outage && { outageMs: status.outage.ms }),
  };
}

/** Whether the node's lock names this run as its holder: a grant is believed only when the lock itself says so. */
export async function holdsLock(lockId: string, requesterRunId: string): Promise<boolean> {
  try {
    const { holder } = await Context.current().client.workflow.getHandle(lockId).query(lockStatusQuery);
    return holder?.requesterRunId === requesterRunId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Waits while the lock's holder runs: the lock is released when the holder's own run ends (it commits, then ends),
 * and only then. A run of any other type than `holderType` holds nothing: it is let go at once. Cancelled (the
 * lease ran out) through its heartbeat.
 */
export async function awaitHolderEnd(workflowId: string, runId: string, holderType: string): Promise<string> {
  const context = Context.current();
  for (;;) {
    const { gone, type } = await notRunning(workflowId, runId);
    if (gone) return gone;
    if (type !== holderType) return `${workflowId} is a ${type}, not a ${holderType}: it holds no lock`;
    context.heartbeat();
    await context.sleep(1000);
  }
}
