import { waitFor as poll, type NotYet } from '../../lab/shared/wait';

/**
 * The tests' wait: calls `check` every 30 ms until it gives something other than undefined or false, and returns
 * that; fails with "timed out waiting for <what>" after timeoutMs.
 */
export function waitFor<T>(what: string, check: () => T | NotYet | Promise<T | NotYet>, timeoutMs = 5000): Promise<T> {
  return poll(check, { timeoutMs, pollMs: 30, timeoutMessage: `timed out waiting for ${what}` });
}
