import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp } from '../lab/lab';

/** Prints figures, asserts nothing: `npm run bench`. */
async function benchLabUp(guests: number, rounds: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-bench-'));
  try {
    await labUp({ guests: 1 }, dir); // warms the OpenClaw cache and the tool bundles
    await labDown(dir);
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = process.hrtime.bigint();
      await labUp({ guests }, dir);
      times.push(Number(process.hrtime.bigint() - started) / 1e9);
      await labDown(dir);
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `lab up --guests ${guests} (warm cache, default data): ` +
        `median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} s, min ${sorted[0].toFixed(2)} s, ` +
        `max ${sorted[sorted.length - 1].toFixed(2)} s over ${rounds} rounds`,
    );
  } finally {
    await labDown(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

benchLabUp(3, 3).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
