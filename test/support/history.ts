import type { WorkflowHandle } from '@temporalio/client';

/**
 * A run's whole history with every payload decoded (fetchHistory gives them base64, so a plain search of its JSON
 * never finds a payload's text): what the UI shows. Each payload also follows on its own, unescaped, so a test can
 * look for a result's JSON as the activity returned it.
 */
export async function historyText(handle: Pick<WorkflowHandle, 'fetchHistory'>): Promise<string> {
  const payloads: string[] = [];
  const raw = JSON.stringify(await handle.fetchHistory(), (key, value: unknown) => {
    if (key !== 'data' || typeof value !== 'string') return value;
    payloads.push(Buffer.from(value, 'base64').toString('utf8'));
    return payloads[payloads.length - 1];
  });
  return [raw, ...payloads].join('\n');
}

/**
 * The activities a run scheduled, by type and event id, in the order of its history: what a test reads to show that
 * a step did not happen (no fixed wait first: the run's own history says what it asked for).
 */
export async function scheduledActivities(
  handle: Pick<WorkflowHandle, 'fetchHistory'>,
): Promise<{ id: number; type: string }[]> {
  return ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
    const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return type ? [{ id: Number(e.eventId), type }] : [];
  });
}
