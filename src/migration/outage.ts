import { DAY, duration } from '../schema';
import type { Outage, PhaseResults, Undone } from './contracts';

/** An outage's length as a run reports it to its fleet: up to 30 days (a stepped guest clock gives none). */
export const OutageMsSchema = duration(0, 30 * DAY);

/** An outage as people read it: seconds, to a tenth. */
export const inSeconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The outage from the results of C and H, when both measured their end of it. */
export function outageOf({ stopDocker, acceptance }: PhaseResults): Outage | undefined {
  if (!stopDocker?.stoppedAt || !acceptance?.answeredAt) return undefined;
  const ms = OutageMsSchema.safeParse(Date.parse(acceptance.answeredAt) - Date.parse(stopDocker.stoppedAt));
  return ms.success
    ? { ms: ms.data, dockerStoppedAt: stopDocker.stoppedAt, directAnsweredAt: acceptance.answeredAt }
    : undefined;
}

/**
 * The outage of a run rolled back onto Docker, from the one measured before the rollback (if the direct install
 * answered), phase C's stop of Docker and what the rollback's steps read of the guest's clock. The one before stands
 * when Docker's answer was not timed (a rollback by workers before this was measured, or not as far as Docker yet).
 * Direct services that had answered but were no longer running at the rollback stopped at an unknown time: their
 * gap is counted from their first answer, the most it can have been.
 */
export function outageAfterRollback(
  before: Outage | undefined,
  dockerStoppedAt: string | undefined,
  { directStoppedAt, dockerAnsweredAt }: Omit<Undone, 'summary'>,
): Outage | undefined {
  if (!dockerStoppedAt || !dockerAnsweredAt) return before;
  // the direct install served from its first answer until its services stopped: that time is not outage
  const gapFrom = before ? (directStoppedAt ?? before.directAnsweredAt) : dockerStoppedAt;
  const ms = OutageMsSchema.safeParse((before?.ms ?? 0) + Date.parse(dockerAnsweredAt) - Date.parse(gapFrom!));
  if (!ms.success) return before;
  return { ...before, ms: ms.data, dockerStoppedAt, ...(directStoppedAt && { directStoppedAt }), dockerAnsweredAt };
}

/** An outage's times in words, for the record and the CLI: what began it and what ended each part of it. */
export function outageTimes({ dockerStoppedAt, directAnsweredAt, directStoppedAt, dockerAnsweredAt }: Outage): string {
  const direct = directAnsweredAt && `the direct gateway and panel answered ${directAnsweredAt}`;
  const stopped =
    directAnsweredAt &&
    dockerAnsweredAt &&
    (directStoppedAt ? `the rollback stopped them ${directStoppedAt}` : 'they were down by the rollback');
  const back = dockerAnsweredAt && `Docker's answered again ${dockerAnsweredAt}`;
  return [`Docker stopped ${dockerStoppedAt}`, direct, stopped, back].filter(Boolean).join(', ');
}
