import { condition, log } from '@temporalio/workflow';
import type { NotificationCounts } from '../fleet/messages';
import { oneLine } from '../schema';
import type { NotifyEvent } from './events';

/**
 * A workflow's side of notifications: each event goes to the `notify` activity in the background, never awaited in
 * the run's own path; what was not delivered after every attempt is counted (and logged), never thrown. `settled`
 * waits for those in flight, before the run ends or continues as new (an activity's result would be lost with it).
 */
export function notifier(send: (event: NotifyEvent) => Promise<unknown>, changed: () => void) {
  const counts: NotificationCounts = { sent: 0, undelivered: 0 };
  let inFlight = 0;
  const told = new Set<string>();
  return {
    counts,
    /** Sends `event`; with `once`, only the first event under that key. */
    tell(event: NotifyEvent, once?: string): void {
      if (once !== undefined && told.has(once)) return;
      if (once !== undefined) told.add(once);
      inFlight++;
      void send(event)
        .then(
          () => void counts.sent++,
          (err: unknown) => {
            const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
            counts.undelivered++;
            counts.lastFailure = oneLine(cause instanceof Error ? cause.message : String(cause), 1000);
            log.warn('a notification was not delivered', { kind: event.kind, error: counts.lastFailure });
          },
        )
        .finally(() => {
          inFlight--;
          changed();
        });
    },
    settled: () => condition(() => inFlight === 0),
  };
}
