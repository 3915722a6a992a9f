import type { WorkflowHandle } from '@temporalio/client';
import { guestExec, guestInit, injectFault, waitForGuestBoot } from '../../lab/lab';
import { waitFor } from '../../lab/shared/wait';
import { migrateVmInputFor } from '../../src/migration/from-inventory';
import { approveUpdate, statusQuery, type MigrationPhase } from '../../src/migration/messages';
import { phaseNamed } from '../../src/migration/phases';
import { migrateVm } from '../../src/workflows';
import { startLabAndWorker, type LabAndWorker } from '../support/lab-and-worker';

/**
 * The product on a guest that reboots between phases (issue 11, point 3), several times in one run: 105 as its backup
 * starts (Docker still up: its containers come back), as D starts (Docker stopped), as the panel deploys, and while
 * the run awaits approval (the direct install must come back by itself); 106 as its data migrates, as its units are
 * written and as acceptance starts. 105's compose file says `restart: always`, which the SOP's `docker compose stop`
 * leaves in force (test/lab/real-guests.test.ts shows those containers back after a reboot): phase C's
 * `docker update --restart=no` is what keeps them down.
 */
describe('migrateVm on a guest that reboots', () => {
  let run: LabAndWorker;
  beforeAll(async () => {
    run = await startLabAndWorker({
      guests: 2,
      faults: [{ vmid: 105, kind: 'restart-always' }],
    });
  }, 1_800_000);
  afterAll(() => run?.stop(), 300_000);

  const inGuest = (vmid: number, script: string) => guestExec(run.lab, vmid, ['/bin/bash', '-c', script]).stdout.trim();
  // a loaded machine's worker may miss a query's deadline now and then: that poll counts as not there yet
  const phaseOf = async (handle: WorkflowHandle<typeof migrateVm>) =>
    (await handle.query(statusQuery).catch(() => undefined))?.phase;
  const rebootWhenReached = async (handle: WorkflowHandle<typeof migrateVm>, vmid: number, phase: MigrationPhase) => {
    await waitFor(async () => (await phaseOf(handle)) === phase, {
      timeoutMs: 900_000,
      pollMs: 200,
      timeoutMessage: `${handle.workflowId} never reached ${phase}`,
    });
    const before = guestInit(run.lab, vmid);
    injectFault(run.lab, { vmid, kind: 'guest-reboot' });
    await waitForGuestBoot(run.lab, vmid, before);
  };

  it.each([
    [105, ['backup', 'install', 'deploy-panel', 'awaiting-approval']],
    [106, ['migrate-data', 'systemd-units', 'acceptance']],
  ] as const)(
    'guest %i rebooting as each of %j starts: the run completes, the direct install up, Docker gone',
    async (vmid, phases) => {
      const handle = await run.env.client.workflow.start(migrateVm, {
        taskQueue: run.taskQueue,
        workflowId: `migrate-vm-reboot-${vmid}`,
        args: [migrateVmInputFor(run.inventory, vmid)],
      });
      for (const phase of phases) await rebootWhenReached(handle, vmid, phase);
      // where the run stops after the reboot: waiting for a human, or over
      const stopped = await waitFor(
        async () =>
          ['awaiting-approval', 'completed', 'rolled-back', 'failed'].includes((await phaseOf(handle)) ?? '') &&
          (await handle.query(statusQuery)),
        { timeoutMs: 900_000, pollMs: 500, timeoutMessage: `${handle.workflowId} did not stop after the reboot` },
      );
      expect({ phase: stopped.phase, problems: stopped.problems }).toEqual({
        phase: 'awaiting-approval',
        problems: [],
      });
      // The old containers stayed down through the reboot: 105's `always` and 106's `unless-stopped` alike.
      expect(inGuest(vmid, 'docker ps --format "{{.Names}}"')).toBe('');
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'after a reboot' }] });
      const result = await handle.result();
      expect(result.outcome).toBe('completed');
      // Each reboot struck its phase: an attempt met the agent gone (before its command started: not running, or
      // its socket not yet served) or the command gone (after), and the retry ran on the new boot. A retried
      // activity's history keeps its last attempt's start, with the failure before it.
      const { events } = await handle.fetchHistory();
      const struck = phases.filter((phase) => phase !== 'awaiting-approval').map((phase) => phaseNamed(phase).activity);
      const retried = events!.filter((event) => (event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
      const scheduled = new Map(
        events!.map((event) => [String(event.eventId), event.activityTaskScheduledEventAttributes?.activityType?.name]),
      );
      expect(
        retried.map((event) => scheduled.get(String(event.activityTaskStartedEventAttributes!.scheduledEventId))),
      ).toEqual(expect.arrayContaining(struck));
      for (const event of retried)
        expect(event.activityTaskStartedEventAttributes?.lastFailure?.message).toMatch(
          /QEMU guest agent is not running|unable to connect to VM \d+ qga socket|the guest no longer knows the command/,
        );
      expect(inGuest(vmid, 'systemctl is-enabled openclaw-gateway openclaw-panel')).toBe('enabled\nenabled');
      expect(inGuest(vmid, 'systemctl is-active openclaw-gateway openclaw-panel')).toBe('active\nactive');
      expect(inGuest(vmid, 'curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:18080/')).toBe('401');
      expect(inGuest(vmid, 'docker ps -a --format "{{.Names}}"')).toBe('');
    },
    1_800_000,
  );
});
