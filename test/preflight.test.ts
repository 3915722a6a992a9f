import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { guestExec } from '../lab/lab';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { migrateVm } from '../src/workflows';
import { startLabAndWorker, type LabAndWorker } from './support/lab-and-worker';

/** The scan's preflight for tools, on a real guest (Debian 12's userland) with binaries taken away. */
describe('the preflight for tools', () => {
  jest.setTimeout(600_000);
  let run: LabAndWorker;

  beforeAll(async () => {
    run = await startLabAndWorker({ guests: 1 });
  }, 1_800_000);
  afterAll(() => run?.stop(), 300_000);

  const inGuest = (script: string) => guestExec(run.lab, 105, ['/bin/bash', '-c', script]).stdout.trim();
  /** What a migration changes first: the backup, the markers, the containers and their restart policies. */
  const machineState = () =>
    inGuest(
      'ls -d /root/migrate-backup-* /var/lib/openclaw-migrate /root/.openclaw 2>&1; ' +
        'docker ps -a --format "{{.Names}} {{.State}}" | sort; ' +
        'docker inspect --format "{{.Name}} {{.HostConfig.RestartPolicy.Name}}" openclaw-gateway openclaw-panel',
    );
  const migrate = (workflowId: string, dryRun = false) =>
    run.env.client.workflow.execute(migrateVm, {
      taskQueue: run.taskQueue,
      workflowId,
      args: [migrateVmInputFor(run.inventory, 105, { dryRun })],
    });

  it('passes a guest that has every tool (its dry run plans the phases)', async () => {
    const result = await migrate('plan-vm-105', true);
    expect(result.outcome).toBe('planned');
    expect(result.status.results.scan!.toolsMissing).toEqual([]);
  });

  it.each([
    ['python3', ['python3']],
    ['rsync or cp', ['rsync', 'cp']],
  ])('refuses a guest without %s, naming it, before anything changes', async (named, tools) => {
    const before = machineState();
    expect(before).toMatch(/openclaw-gateway running\nopenclaw-panel running/);
    const paths = tools.map((tool) => inGuest(`command -v ${tool}`));
    expect(paths.every((path) => path.startsWith('/usr/bin/'))).toBe(true);
    for (const path of paths) inGuest(`mv ${path} ${path}.hidden-by-test`);
    try {
      const err = await migrate(`migrate-vm-105-without-${tools.join('-')}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const activity = (err as WorkflowFailedError).cause;
      expect(activity).toBeInstanceOf(ActivityFailure);
      expect((activity as ActivityFailure).activityType).toBe('scan');
      const refusal = (activity as ActivityFailure).cause;
      expect(refusal).toBeInstanceOf(ApplicationFailure);
      expect((refusal as ApplicationFailure).type).toBe('PreflightRefused');
      expect(refusal!.message).toBe(`vm 105 lacks what the migration runs: ${named}. Install it and start again`);
    } finally {
      for (const path of paths) inGuest(`mv ${path}.hidden-by-test ${path}`);
    }
    expect(machineState()).toBe(before);
  });
});
