import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { guestExec, injectFault, type FaultKind } from '../lab/lab';
import { waitFor } from '../lab/shared/wait';
import { acceptanceChecks } from '../src/activities/acceptance';
import { stopDocker } from '../src/activities/stop-docker';
import type { AcceptanceResult, StopDockerResult } from '../src/migration/contracts';
import { migrateVmInputFor, type VmOverrides } from '../src/migration/from-inventory';
import { parseMigrateVmInput, type MigrateVmParams } from '../src/migration/input';
import { approveUpdate, statusQuery, type MigrationPhase } from '../src/migration/messages';
import { migrateVm } from '../src/workflows';
import { historyText } from './support/history';
import { startLabAndWorker, type LabAndWorker } from './support/lab-and-worker';

/** What may strike a VM between phases C and I: the old containers must stay down through each, in this order. */
const BETWEEN_C_AND_I: FaultKind[] = ['dockerd-restart'];

/**
 * Docker stays stopped until the human decides, and acceptance proves continuity, on real guests (real dockerd,
 * systemd, nginx), both with `restart: always`. (The record's `unless-stopped` goes back the same way.)
 */
describe('Docker between phase C and the human decision', () => {
  // two real guests migrating at once on a shared 2-core machine: generous, not a speed check
  jest.setTimeout(1_200_000);
  let run: LabAndWorker;
  const handles = new Map<number, WorkflowHandle<typeof migrateVm>>();
  let password106 = '';
  const wrongPassword = `not-${Date.now().toString(36)}-the-password`;

  const inGuest = (vmid: number, script: string) => guestExec(run.lab, vmid, ['/bin/bash', '-c', script]).stdout.trim();
  const running = (vmid: number) => inGuest(vmid, 'docker ps --format "{{.Names}}" | sort');
  const policies = (vmid: number) =>
    inGuest(
      vmid,
      'docker inspect --format "{{.Name}} {{.HostConfig.RestartPolicy.Name}}" openclaw-gateway openclaw-panel',
    );
  const start = (vmid: number, workflowId: string, overrides: VmOverrides = {}) =>
    run.env.client.workflow.start(migrateVm, {
      taskQueue: run.taskQueue,
      workflowId,
      args: [migrateVmInputFor(run.inventory, vmid, overrides)],
    });
  async function reach(handle: WorkflowHandle<typeof migrateVm>, phase: MigrationPhase): Promise<void> {
    await waitFor(async () => (await handle.query(statusQuery)).phase === phase, {
      timeoutMs: 900_000,
      pollMs: 1000,
      timeoutMessage: `${handle.workflowId} never reached ${phase}`,
    });
  }
  /** Phase H's activity as the worker runs it, outside a workflow. */
  const acceptanceOn = (params: MigrateVmParams) =>
    new MockActivityEnvironment().run(acceptanceChecks, params) as Promise<AcceptanceResult>;
  beforeAll(async () => {
    run = await startLabAndWorker({
      guests: 2,
      faults: [
        { vmid: 105, kind: 'restart-always' },
        { vmid: 106, kind: 'restart-always' },
      ],
    });
    // 106's login file no longer matches its fronts' password: the customer could not log in after the migration
    password106 = inGuest(106, "sed -n 's/^password: //p' /root/OPENCLAW_WEB_LOGIN.txt");
    inGuest(106, `sed -i 's/^password: .*/password: ${wrongPassword}/' /root/OPENCLAW_WEB_LOGIN.txt`);
    handles.set(105, await start(105, 'migrate-vm-105'));
    handles.set(106, await start(106, 'migrate-vm-106'));
  }, 1_800_000);
  afterAll(() => run?.stop(), 300_000);

  it('C records restart: always, sets no and stops; the policies are in its result and the record', async () => {
    const handle = handles.get(105)!;
    await reach(handle, 'awaiting-approval');
    const status = await handle.query(statusQuery);
    expect(status.results.stopDocker!.restartPolicies).toEqual([
      { container: 'openclaw-gateway', policy: 'always', maximumRetryCount: 0 },
      { container: 'openclaw-panel', policy: 'always', maximumRetryCount: 0 },
    ]);
    expect(policies(105)).toBe('/openclaw-gateway no\n/openclaw-panel no');
    expect(running(105)).toBe('');
    expect(status.results.acceptance!.checks.wait_budget).toBe(
      '180 s for the gateway and the panel to answer, 60 s for each update check',
    );
  });

  it('a retried C (as after a worker crash) keeps the policies it recorded first, not its own no', async () => {
    const params = parseMigrateVmInput(migrateVmInputFor(run.inventory, 105));
    const again = (await new MockActivityEnvironment().run(stopDocker, params)) as StopDockerResult;
    expect(again.restartPolicies).toEqual([
      { container: 'openclaw-gateway', policy: 'always', maximumRetryCount: 0 },
      { container: 'openclaw-panel', policy: 'always', maximumRetryCount: 0 },
    ]);
    expect(policies(105)).toBe('/openclaw-gateway no\n/openclaw-panel no');
  });

  it.each(BETWEEN_C_AND_I)('%s between C and I brings no old container back while the direct install runs', (kind) => {
    injectFault(run.lab, { vmid: 105, kind });
    expect(inGuest(105, 'systemctl is-active docker')).toBe('active');
    // dockerd starts the containers it restarts before it reports ready; look a while longer all the same
    for (let look = 0; look < 15; look++) {
      expect(running(105)).toBe('');
      inGuest(105, 'sleep 1');
    }
    expect(inGuest(105, 'systemctl is-active openclaw-gateway openclaw-panel')).toBe('active\nactive');
    expect(inGuest(105, 'curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:28789/')).toBe('200');
    expect(inGuest(105, 'curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:28080/')).toBe('200');
  });

  it("acceptance fails when the panel's tag is not the deployed release's", async () => {
    const params = parseMigrateVmInput(migrateVmInputFor(run.inventory, 105));
    const marker = '/opt/openclaw-panel/.panel-release.json';
    const passed = await acceptanceOn(params);
    expect(passed.failures).toEqual([]);
    inGuest(105, `cp -p ${marker} ${marker}.orig && sed -i 's/"tag": *"[^"]*"/"tag": "v2026.01.01-r1"/' ${marker}`);
    try {
      const outcome = await acceptanceOn(params);
      expect(outcome.passed).toBe(false);
      expect(outcome.failures).toEqual([`panel currentTag: v2026.01.01-r1, expected ${params.panelRelease.tag}`]);
    } finally {
      inGuest(105, `mv ${marker}.orig ${marker}`);
    }
  });

  it('I reports what Docker leaves, as docker images and docker system df say on the guest', async () => {
    const handle = handles.get(105)!;
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'the customer logged in' }] });
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    const removed = result.status.results.removeDocker!.report!;
    expect(inGuest(105, 'docker ps -a --format "{{.Names}}"')).toBe('');
    expect(removed.imagesRemoved).toEqual([]);
    expect(removed.imagesLeft.map((line) => line.split(' ')[0]).sort()).toEqual([
      'ghcr.io/bianshumeng/openclaw-panel:v2026.02.10',
      'ghcr.io/openclaw/openclaw:2026.2.19',
    ]);
    expect(removed.imagesLeft.join('\n')).toBe(
      inGuest(105, 'docker images --format "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"'),
    );
    expect(removed.diskUsage.join('\n')).toBe(
      inGuest(105, 'docker system df --format "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}"'),
    );
    expect(removed.diskUsage[0]).toMatch(/^Images 2 0 \S+ \S+ \(100%\)$/);
    expect(removed.pruneReclaimed).toBe('0B');
    expect(result.record).toContain('`openclaw-gateway always`, `openclaw-panel always`');
    expect(result.record).toContain('reclaimed 0B');
    // doctor.txt and doctor-moved: phase E's `openclaw doctor --fix` output and the user's files it moved aside, kept
    // on the VM for the operator (and the latter for the acceptance's counts)
    expect(inGuest(105, 'ls /var/lib/openclaw-migrate')).toBe(
      'data-migrated\ndocker-removed\ndocker-stopped-at\ndoctor-moved\ndoctor.txt',
    );
  });

  it("acceptance fails when the customer's login does not open the fronts; rollback restores restart: always", async () => {
    const handle = handles.get(106)!;
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const message = (err as WorkflowFailedError).cause?.message ?? '';
    expect(message).toContain('panel front with the login of /root/OPENCLAW_WEB_LOGIN.txt: 401, expected 200');
    expect(message).toContain('gateway front with the login of /root/OPENCLAW_WEB_LOGIN.txt: 401, expected 200');
    expect(message).not.toMatch(/front without login/);
    // back on Docker with its own policies, before the containers started again
    expect(policies(106)).toBe('/openclaw-gateway always\n/openclaw-panel always');
    expect(running(106)).toBe('openclaw-gateway\nopenclaw-panel');
    const status = await handle.query(statusQuery);
    expect(status.rollback).toContain('docker compose start: done (restart_policy=openclaw-gateway always)');
    expect(inGuest(106, 'ls /var/lib/openclaw-migrate')).toBe('data-migrated\ndoctor-moved\ndoctor.txt');
    // as before the migration: a dockerd restart brings them back by their own policy
    injectFault(run.lab, { vmid: 106, kind: 'dockerd-restart' });
    await waitFor(() => running(106) === 'openclaw-gateway\nopenclaw-panel', {
      timeoutMs: 120_000,
      pollMs: 1000,
      timeoutMessage: `106's containers did not come back after dockerd restarted: ${running(106)}`,
    });
  });

  it('no password reaches the history, though the failed acceptance is in it', async () => {
    const history = await historyText(handles.get(106)!);
    expect(history).toContain('"restartPolicies":[{"container":"openclaw-gateway","policy":"always"');
    expect(history).toContain('panel_front_login');
    expect(password106.length).toBeGreaterThanOrEqual(12);
    expect(history).not.toContain(password106);
    expect(history).not.toContain(wrongPassword);
  });

  it('with removeImages, I removes the project images too, after the human approved', async () => {
    inGuest(106, `sed -i 's/^password: .*/password: ${password106}/' /root/OPENCLAW_WEB_LOGIN.txt`);
    const handle = await start(106, 'migrate-vm-106-again', { removeImages: true });
    await reach(handle, 'awaiting-approval');
    expect(inGuest(106, 'docker images --format "{{.Repository}}:{{.Tag}}" | sort')).toBe(
      'ghcr.io/bianshumeng/openclaw-panel:v2026.02.10\nghcr.io/openclaw/openclaw:2026.2.19',
    );
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'the customer logged in' }] });
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    const removed = result.status.results.removeDocker!.report!;
    expect(removed.imagesRemoved.sort()).toEqual([
      'ghcr.io/bianshumeng/openclaw-panel:v2026.02.10',
      'ghcr.io/openclaw/openclaw:2026.2.19',
    ]);
    expect(removed.imagesLeft).toEqual([]);
    expect(inGuest(106, 'docker images -q')).toBe('');
    expect(removed.diskUsageBefore[0]).toMatch(/^Images 2 2 /); // the stopped containers still used them
    expect(removed.diskUsage[0]).toBe('Images 0 0 0B 0B');
    expect(result.record).toContain("the project's images");
    expect(await historyText(handle)).not.toContain(password106);
  });
});
