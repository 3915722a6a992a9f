import { ActivityFailure, ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { guestExec } from '../lab/lab';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { approveUpdate, statusQuery } from '../src/migration/messages';
import { migrateVm } from '../src/workflows';
import { waitFor } from '../lab/shared/wait';
import { dockerEraAnswers } from './support/bot';
import { startLabAndWorker, type LabAndWorker } from './support/lab-and-worker';

/**
 * The scan's preflight for tools, on a real guest (Debian 12's userland) with binaries taken away (105); and seed
 * 004's hardened units under the real systemd 252 (issue 11, point 6): 106 migrates to the end, 107's acceptance
 * fails (its direct gateway answers 500) and it rolls back to Docker.
 */
describe('the preflight for tools', () => {
  jest.setTimeout(600_000);
  let run: LabAndWorker;

  beforeAll(async () => {
    run = await startLabAndWorker({
      guests: 3,
      faults: [{ vmid: 107, kind: 'gateway-500' }],
    });
  }, 1_800_000);
  afterAll(() => run?.stop(), 300_000);

  const inGuest = (script: string, vmid = 105) => guestExec(run.lab, vmid, ['/bin/bash', '-c', script]).stdout.trim();
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

  describe('the hardened variant', () => {
    const hardened = { runAs: { user: 'openclaw', hardened: true } };
    const start = (vmid: number) =>
      run.env.client.workflow.start(migrateVm, {
        taskQueue: run.taskQueue,
        workflowId: `migrate-vm-${vmid}-hardened`,
        args: [migrateVmInputFor(run.inventory, vmid, hardened)],
      });
    const phaseOf = async (handle: WorkflowHandle<typeof migrateVm>) => (await handle.query(statusQuery)).phase;
    /** A unit's sandbox as systemd itself reports it, one `Property=value` a line, sorted. */
    const sandbox = (vmid: number, unit: string) =>
      inGuest(
        `systemctl show -p User -p Type -p NoNewPrivileges -p ProtectSystem -p ProtectHome -p ReadWritePaths ` +
          `-p PrivateTmp -p StateDirectory ${unit} | sort`,
        vmid,
      );
    /** Runs as the unit's user in its running process's mount namespace: what the sandbox lets it write. */
    const writeAs = (vmid: number, unit: string, path: string) =>
      inGuest(
        `pid=$(systemctl show -p MainPID --value ${unit}); ` +
          `nsenter -t "$pid" -m -S "$(id -u openclaw)" -G "$(id -g openclaw)" -- touch '${path}' 2>&1 && ` +
          `nsenter -t "$pid" -m -- rm -f '${path}' && echo written`,
        vmid,
      );
    const code = (vmid: number, url: string, login = false) =>
      inGuest(
        login
          ? `printf 'user = "%s:%s"\\n' "$(sed -n 's/^username: //p' /root/OPENCLAW_WEB_LOGIN.txt)" ` +
              `"$(sed -n 's/^password: //p' /root/OPENCLAW_WEB_LOGIN.txt)" | curl -K - -s -o /dev/null -w '%{http_code}' ${url}`
          : `curl -s -o /dev/null -w '%{http_code}' ${url}`,
        vmid,
      );

    it('106 migrates to the end with a dedicated user and sandboxed units; 107 fails and is back on Docker', async () => {
      expect(inGuest('id openclaw 2>&1 || true', 106)).toMatch(/no such user/);
      const [completed, failed] = [await start(106), await start(107)];

      const failure = await failed.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause?.message).toMatch(/acceptance failed.*gateway direct: 500/);
      expect(await phaseOf(failed)).toBe('rolled-back');
      // Docker as phase C found it: both containers up with their policies, answering through the fronts
      expect(
        inGuest(
          'docker inspect --format "{{.Name}} {{.State.Status}} {{.HostConfig.RestartPolicy.Name}}" openclaw-gateway openclaw-panel',
          107,
        ),
      ).toBe('/openclaw-gateway running unless-stopped\n/openclaw-panel running unless-stopped');
      expect(dockerEraAnswers(run.lab, 107)).toBe(0);
      expect([code(107, 'http://127.0.0.1:18080/', true), code(107, 'http://127.0.0.1:18789/', true)]).toEqual([
        '200',
        '200',
      ]);
      expect(inGuest('systemctl is-enabled openclaw-gateway openclaw-panel || true', 107)).toBe('disabled\ndisabled');
      // the user the migration made and its copy stay (the copy is never deleted); Docker reads /data, not them
      expect(inGuest('stat -c "%U %a" /home/openclaw/.openclaw/openclaw.json', 107)).toBe('openclaw 600');

      // where 106 stops: waiting for a human, or rolled back (its problems say why)
      const stopped = await waitFor(
        async () => {
          const status = await completed.query(statusQuery);
          return ['awaiting-approval', 'rolled-back', 'failed'].includes(status.phase) && status;
        },
        { timeoutMs: 900_000, pollMs: 500, timeoutMessage: 'migrate-vm-106-hardened never stopped' },
      );
      expect({ phase: stopped.phase, problems: stopped.problems }).toEqual({
        phase: 'awaiting-approval',
        problems: [],
      });
      const { results } = await completed.query(statusQuery);
      expect(results.migrateData?.userCreated).toBe(true);
      expect(results.acceptance?.passed).toBe(true);
      expect(inGuest('id -un openclaw; getent passwd openclaw | cut -d: -f6,7', 106)).toBe(
        'openclaw\n/home/openclaw:/usr/sbin/nologin',
      );
      expect(sandbox(106, 'openclaw-gateway')).toBe(
        [
          'NoNewPrivileges=yes',
          'PrivateTmp=yes',
          'ProtectHome=read-only',
          'ProtectSystem=strict',
          'ReadWritePaths=/home/openclaw/.openclaw /home/openclaw/.cache',
          'StateDirectory=',
          'Type=exec',
          'User=openclaw',
        ].join('\n'),
      );
      expect(sandbox(106, 'openclaw-panel')).toBe(
        [
          'NoNewPrivileges=yes',
          'PrivateTmp=yes',
          'ProtectHome=read-only',
          'ProtectSystem=strict',
          'ReadWritePaths=/etc/openclaw-panel /home/openclaw/.openclaw /home/openclaw/.cache',
          'StateDirectory=openclaw-panel',
          'Type=exec',
          'User=openclaw',
        ].join('\n'),
      );
      expect(inGuest('systemctl show -p ExecStartPre openclaw-gateway', 106)).toMatch(
        /rm -f \/home\/openclaw\/\.openclaw\/gateway\.\*\.lock \/home\/openclaw\/\.openclaw\/tmp\/openclaw-\*\/gateway\.\*\.lock ;.*status=0\b/,
      );
      expect(inGuest('systemctl is-active openclaw-gateway openclaw-panel', 106)).toBe('active\nactive');
      for (const unit of ['openclaw-gateway', 'openclaw-panel']) {
        expect(inGuest(`ps -o user= -p "$(systemctl show -p MainPID --value ${unit})"`, 106)).toBe('openclaw');
      }
      // The sandbox holds: each writes what it must, nothing else
      expect(writeAs(106, 'openclaw-gateway', '/home/openclaw/.openclaw/probe')).toBe('written');
      expect(writeAs(106, 'openclaw-panel', '/etc/openclaw-panel/panel.config.json.tmp')).toBe('written');
      expect(writeAs(106, 'openclaw-panel', '/var/lib/openclaw-panel/probe')).toBe('written');
      expect(writeAs(106, 'openclaw-gateway', '/home/openclaw/probe')).toMatch(/Read-only file system/);
      expect(writeAs(106, 'openclaw-panel', '/opt/openclaw-panel/probe')).toMatch(/Read-only file system/);
      expect(
        inGuest('journalctl -q -u openclaw-gateway -u openclaw-panel | grep -ci "read-only file system" || true', 106),
      ).toBe('0');
      // The panel reads its config: its own, mode 600, in the types it parses; its directory its own too
      expect(inGuest('stat -c "%n %U %a" /etc/openclaw-panel /etc/openclaw-panel/panel.config.json', 106)).toBe(
        '/etc/openclaw-panel openclaw 700\n/etc/openclaw-panel/panel.config.json openclaw 600',
      );
      expect(JSON.parse(inGuest('curl -s http://127.0.0.1:28080/api/update/check?target=panel', 106))).toMatchObject({
        ok: true,
        result: { currentTag: run.inventory.panelRelease.tag },
      });
      expect([code(106, 'http://127.0.0.1:18080/'), code(106, 'http://127.0.0.1:18789/')]).toEqual(['401', '401']);
      expect([code(106, 'http://127.0.0.1:18080/', true), code(106, 'http://127.0.0.1:18789/', true)]).toEqual([
        '200',
        '200',
      ]);

      await completed.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'hardened units checked' }] });
      expect((await completed.result()).outcome).toBe('completed');
      expect(inGuest('docker ps -a --format "{{.Names}}"', 106)).toBe('');
      expect(inGuest('systemctl is-active openclaw-gateway openclaw-panel', 106)).toBe('active\nactive');
    });
  });
});
