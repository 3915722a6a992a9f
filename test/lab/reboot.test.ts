import type { WorkflowHandle } from '@temporalio/client';
import { guestExec, guestInit, injectFault, waitForGuestBoot } from '../../lab/lab';
import { waitFor } from '../../lab/shared/wait';
import { migrateVmInputFor } from '../../src/migration/from-inventory';
import { approveUpdate, statusQuery, type MigrationPhase } from '../../src/migration/messages';
import { migrateVm } from '../../src/workflows';
import { startLabAndWorker, type LabAndWorker } from '../support/lab-and-worker';

/**
 * The product on a guest that reboots between two phases (issue 11, point 3): 105 reboots once its Docker is
 * stopped (C done, as D starts), 106 once its units are in place (G done, as H starts). 105's compose file says
 * `restart: always`, which the SOP's `docker compose stop` leaves in force (test/lab/real-guests.test.ts shows
 * those containers back after a reboot): phase C's `docker update --restart=no` is what keeps them down.
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
  const rebootWhenReached = async (handle: WorkflowHandle<typeof migrateVm>, vmid: number, phase: MigrationPhase) => {
    await waitFor(async () => (await handle.query(statusQuery)).phase === phase, {
      timeoutMs: 900_000,
      pollMs: 200,
      timeoutMessage: `${handle.workflowId} never reached ${phase}`,
    });
    const before = guestInit(run.lab, vmid);
    injectFault(run.lab, { vmid, kind: 'guest-reboot' });
    await waitForGuestBoot(run.lab, vmid, before);
  };

  it.each([
    [105, 'install'],
    [106, 'acceptance'],
  ] as const)(
    'guest %i rebooting as %s starts: the run completes, the direct install up, Docker gone',
    async (vmid, phase) => {
      const handle = await run.env.client.workflow.start(migrateVm, {
        taskQueue: run.taskQueue,
        workflowId: `migrate-vm-reboot-${vmid}`,
        args: [migrateVmInputFor(run.inventory, vmid)],
      });
      await rebootWhenReached(handle, vmid, phase);
      // where the run stops after the reboot: waiting for a human, or over
      const stopped = await waitFor(
        async () => {
          const status = await handle.query(statusQuery);
          return ['awaiting-approval', 'completed', 'rolled-back', 'failed'].includes(status.phase) && status;
        },
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
      // The reboot struck the phase: an attempt met the agent gone (before its command started: not running, or
      // its socket not yet served) or the command gone (after), and the retry ran on the new boot. A retried activity's history keeps its last attempt's
      // start, with the failure before it.
      const { events } = await handle.fetchHistory();
      const retried = events!.find((event) => (event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
      expect(retried?.activityTaskStartedEventAttributes?.lastFailure?.message).toMatch(
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
