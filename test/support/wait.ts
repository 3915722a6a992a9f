import { waitFor as poll, type NotYet } from '../../lab/shared/wait';

/**
 * The tests' wait: calls `check` every `pollMs` (30 ms) until it gives something other than undefined or false, and
 * returns that; fails with "timed out waiting for <what>" after timeoutMs. A check that costs CPU (a query of a
 * large workflow, a CLI's start) waits longer between two: the lab's real software starts on the same two cores.
 */
export function waitFor<T>(
  what: string,
  check: () => T | NotYet | Promise<T | NotYet>,
  timeoutMs = 5000,
  pollMs = 30,
): Promise<T> {
  return poll(check, { timeoutMs, pollMs, timeoutMessage: `timed out waiting for ${what}` });
}
