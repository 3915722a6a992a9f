/** What a check gives while the thing waited for is not there yet. */
export type NotYet = undefined | false;

export interface WaitOptions {
  timeoutMs: number;
  /** the pause between two checks */
  pollMs: number;
  /** the error's message when time runs out */
  timeoutMessage: string;
}

/**
 * Calls `check` until it gives something other than undefined or false, and returns that; throws
 * `timeoutMessage` when it still has not after `timeoutMs`.
 */
export async function waitFor<T>(check: () => T | NotYet | Promise<T | NotYet>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(opts.timeoutMessage);
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs));
  }
}
