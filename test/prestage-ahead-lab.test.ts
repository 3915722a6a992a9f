import { randomUUID } from 'node:crypto';
import { guestExec } from '../lab/lab';
import { migrateFleet } from '../src/workflows';
import { approveAsTheyArrive, inCutoverAtOnce, inFlightAtOnce, runSpans } from './support/fleet';
import { startLabAndWorker, type LabAndWorker } from './support/lab-and-worker';

/**
 * A pre-staged-ahead fleet on real guests (issue 23): two Docker-era VMs, `concurrency` 1, `prestageAhead` 1, no
 * canary. Both pre-stage at once while their Docker serves (install, panel, pre-copy, staged units); only one is
 * between C and its end at any moment. What the fleet did is read from the children's histories: when each run
 * started, scheduled C (stopDocker) and closed.
 */
describe('a pre-staged-ahead fleet on the lab', () => {
  // two real migrations pre-staging side by side on 2 cores: a bound, not a speed check
  jest.setTimeout(1_800_000);
  let run: LabAndWorker;
  beforeAll(async () => {
    run = await startLabAndWorker({ guests: 2 });
  }, 900_000);
  afterAll(() => run?.stop(), 300_000);

  it('pre-stages both VMs at once and cuts them over one at a time', async () => {
    const handle = await run.env.client.workflow.start(migrateFleet, {
      taskQueue: run.taskQueue,
      workflowId: `prestage-ahead-lab-${randomUUID()}`,
      args: [{ inventory: { ...run.inventory, prestage: true }, concurrency: 1, canary: 0, prestageAhead: 1 }],
    });
    const stopApproving = approveAsTheyArrive(run.env.client, handle);
    const report = await handle.result().finally(stopApproving);
    expect(report.counts).toEqual({ completed: 2 });

    const spans = await runSpans(run.env.client, report);
    // both in flight at once (the second pre-staged ahead), never both between C and their end
    expect(inFlightAtOnce(spans)).toBe(2);
    expect(inCutoverAtOnce(spans)).toBe(1);
    const [first, second] = [...spans].sort((a, b) => a.cutoverMs! - b.cutoverMs!);
    expect(second.startMs).toBeLessThan(first.cutoverMs!);
    expect(second.cutoverMs).toBeGreaterThanOrEqual(first.endMs);

    // on the guests: the direct install serves, the Docker-era containers are gone
    for (const vmid of [105, 106]) {
      const inGuest = (script: string) => guestExec(run.lab, vmid, ['/bin/bash', '-c', script]).stdout.trim();
      expect(inGuest('systemctl is-active openclaw-gateway openclaw-panel')).toBe('active\nactive');
      expect(inGuest('docker ps -a --format "{{.Names}}"')).toBe('');
    }
  });
});
