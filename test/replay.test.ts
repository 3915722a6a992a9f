import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { ensureWorkflowBundle } from '../src/workflow-code';

const DIR = join(__dirname, 'fixtures/histories');
/** one directory per recording, named by its day: each is what the runs in flight looked like then */
const recordings = readdirSync(DIR).sort();
const filesOf = (recording: string) => readdirSync(join(DIR, recording)).filter((name) => name.endsWith('.json'));

/**
 * Histories of real runs (test/fixtures/record-histories.ts) replayed against the current workflow code, as a worker
 * deployed tomorrow replays the runs in flight today: a change that alters the commands of an existing history
 * fails here, and needs patched() (README, "Upgrading workers"). The code is the bundle a production worker loads
 * (lib/workflow-bundle.js, `npm run build`), built again here only if the sources changed since.
 */
describe('replay of recorded histories', () => {
  jest.setTimeout(300_000);
  let codePath: string;
  beforeAll(async () => {
    codePath = await ensureWorkflowBundle();
  });

  it.each(recordings)('has in %s each kind of run a deploy may meet', (recording) => {
    expect(filesOf(recording)).toEqual(
      expect.arrayContaining([
        'connectivity-check.run1.json',
        'fleet-completed.run1.json',
        'migrate-vm-2000.run1.json', // completed
        'fleet-rolled-back.run1.json',
        'migrate-vm-2100.run1.json', // rolled back after failed acceptance
        'fleet-rejected.run1.json',
        'migrate-vm-2200.run1.json', // rejected
        'fleet-continued-as-new.run1.json',
        'fleet-continued-as-new.run2.json',
        'fleet-awaiting-approval.run1.json',
        'migrate-vm-2400.run1.json', // still waiting for approval
        `${encodeURIComponent(`shared-resources-SHA256:${'A'.repeat(43)}`)}.run1.json`,
      ]),
    );
  });

  it.each(recordings)('replays every one of %s with the current workflow code', async (recording) => {
    const files = filesOf(recording);
    const histories = files.map((name) => ({
      workflowId: decodeURIComponent(name.replace(/\.run\d+\.json$/, '')),
      history: JSON.parse(readFileSync(join(DIR, recording, name), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath } }, histories)) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });

  /**
   * The check above can fail: a history whose commands the code does not issue is refused, as in the SDK's own
   * replay tests (they point a history at other workflow code). Here the run's first activity is not the one the
   * code schedules first.
   */
  it('refuses a history whose commands the current code does not issue', async () => {
    const latest = recordings.at(-1)!;
    const history = JSON.parse(readFileSync(join(DIR, latest, 'migrate-vm-2000.run1.json'), 'utf8')) as {
      events: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }[];
    };
    const first = history.events.find((event) => event.activityTaskScheduledEventAttributes);
    expect(first?.activityTaskScheduledEventAttributes?.activityType.name).toBe('scan');
    first!.activityTaskScheduledEventAttributes!.activityType.name = 'backup';
    await expect(Worker.runReplayHistory({ workflowBundle: { codePath } }, history, 'migrate-vm-2000')).rejects.toThrow(
      DeterminismViolationError,
    );
  });
});
