/**
 * The entry of a per-machine cache's module run on its own (`tsx lab/<cache>.ts`): prepares the cache, prints what
 * it holds as JSON, or its error under the cache's name with exit status 1.
 */
export async function printPreparedCache(name: string, prepare: () => Promise<unknown>): Promise<void> {
  try {
    process.stdout.write(JSON.stringify(await prepare(), null, 2) + '\n');
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
