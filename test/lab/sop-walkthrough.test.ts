import { guestExec } from '../../lab/lab';
import * as sop from './sop-commands';
import { directBot, dockerEraBot, sessionKeys } from '../support/bot';
import { nodeSsh, sopStep, startLab, stopLab, type Lab } from '../support/lab';

const VMID = 105;

/** One guest taken through the SOP by hand, as an operator would: plain ssh to the node, qm guest exec. */
describe('the SOP walked by hand on a lab guest', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab();
  }, 900_000);
  afterAll(() => stopLab(lab));

  const out = (script: string, ...params: string[]) => {
    const result = sopStep(lab, VMID, script, ...params);
    if (result.exitcode !== 0) throw new Error(`exit ${result.exitcode}\n${result['out-data']}\n${result['err-data']}`);
    return result['out-data'] ?? '';
  };

  // the conversations the Docker-era bot (the record's 2026.2.19) lists before the walk
  let dockerEraSessions: string[] = [];

  it('§5.1 scan shows what the record shows before a migration', () => {
    dockerEraSessions = sessionKeys(dockerEraBot(lab, VMID, 'sessions', '--json').stdout);
    expect(dockerEraSessions).toContain('agent:main:main');
    expect(nodeSsh(lab, ['qm', 'status', String(VMID)]).stdout).toBe('status: running\n');
    expect(nodeSsh(lab, ['qm', 'config', String(VMID)]).stdout).toMatch(/^agent: 1$/m);
    const scan = out(sop.scan);
    expect(scan).toMatch(/^vm-lab-0001$/m);
    expect(scan).toMatch(/^PRETTY_NAME="Debian GNU\/Linux 12 \(bookworm\)"$/m);
    expect(scan).toMatch(/^openclaw-gateway\s+Up .*127\.0\.0\.1:28789->18789\/tcp$/m);
    expect(scan).toMatch(/^openclaw-panel\s+Up .*127\.0\.0\.1:28080->18080\/tcp$/m);
    // the panel's compose runs the gateway as node (uid 1000), whose state it is
    expect(scan).toMatch(/^d\S+ \d+ 1000 1000 \d+ .* \/data\/openclaw$/m);
    expect(scan).toMatch(/^missing:\/root\/\.openclaw$/m);
    expect(scan).toMatch(/0\.0\.0\.0:18080/);
    expect(scan).toMatch(/127\.0\.0\.1:28789/);
  });

  it('§5.2–§5.10 end with the direct install serving and the data intact', () => {
    const backupDir = out(sop.backup, String(VMID)).trim();
    expect(backupDir).toMatch(new RegExp(`^/root/migrate-backup-${VMID}-\\d{4}-\\d\\d-\\d\\d_\\d{6}$`));
    expect(out(sop.verifyBackup, backupDir)).toMatch(/data-openclaw\.tgz: OK/);

    expect(out(sop.stopDocker)).toMatch(/^openclaw-gateway\s+Exited \(0\)/m);

    const install = out(sop.install, lab.installCommand);
    expect(install).toMatch(/^\/usr\/local\/bin\/node\nv24\./m);
    expect(install).toMatch(/^\/usr\/local\/bin\/openclaw$/m);

    out(sop.migrateData);
    expect(out(sop.patchGatewayConfig)).toMatch(/^backup \/root\/\.openclaw\/openclaw\.json\.bak\.\d{14}$/m);
    out(sop.deployPanel, lab.panelRelease.tag, lab.panelRelease.repo, lab.panelRelease.baseUrl);
    out(sop.writePanelConfig, lab.panelRelease.repo);
    expect(out(sop.systemdUnits, '/usr/local/bin/openclaw', '/usr/local/bin/node')).toMatch(/^active\nactive\n$/m);

    // The SOP's own count (§5.10): the copy holds every workspace file.
    const counts = Object.fromEntries(
      out(sop.dataCounts)
        .trim()
        .split('\n')
        .map((line) => line.split(':')),
    );
    expect(counts.target_workspace).toBe(counts.source_workspace);
    // the real gateway's workspace (its 7 templates and state file, the user's MEMORY.md, memory/, notes/ and a
    // script: lab/guest/seed-state.sh) and the lab's 60 user files
    expect(Number(counts.source_workspace)).toBe(72);

    // On the record's release the SOP as written stops here: the installed 2026.9.6 will not run on a 2026.2.19 state
    // until its doctor has migrated it (the gateway exits, systemd restarts it, it exits again). Phase E runs that
    // doctor; by hand it is one more step, with Docker's gateway stopped and before the direct one serves.
    const refused = `for i in $(seq 1 240); do journalctl -u openclaw-gateway --no-pager | grep -q 'doctor --fix' && exit 0; sleep 0.5; done
journalctl -u openclaw-gateway -n 30 --no-pager; exit 1`;
    out(refused);
    out(`systemctl stop openclaw-gateway
HOME=/root OPENCLAW_SERVICE_REPAIR_POLICY=external openclaw doctor --fix --non-interactive >/dev/null
systemctl start openclaw-gateway`);
    // ready, not merely answering: 2026.9.6 answers /health even while a start fails
    const waitForGateway = `for i in $(seq 1 240); do curl -fs -o /dev/null http://127.0.0.1:28789/readyz && exit 0; sleep 0.5; done
journalctl -u openclaw-gateway -n 30 --no-pager; exit 1`;
    out(waitForGateway);
    const acceptance = out(sop.acceptance);
    expect(acceptance).toMatch(/^panel-direct:200$/m);
    expect(acceptance).toMatch(/^gateway-direct:200$/m);
    expect(acceptance).toMatch(/^panel-front:401$/m);
    expect(acceptance).toMatch(/^gateway-front:401$/m);
    expect(acceptance).toMatch(/"currentTag":"2026\.9\.6"/);
    expect(acceptance).toMatch(new RegExp(`"currentTag":"${lab.panelRelease.tag}"`));
    // the user's conversations, as the direct bot lists them
    expect(sessionKeys(directBot(lab, VMID, 'sessions', '--json').stdout)).toEqual(
      expect.arrayContaining(dockerEraSessions),
    );

    // The services really are systemctl's: stopping the gateway closes its port.
    expect(guestExec(lab, VMID, ['systemctl', 'is-active', 'openclaw-gateway']).stdout).toBe('active\n');
    guestExec(lab, VMID, ['systemctl', 'stop', 'openclaw-gateway']);
    expect(
      guestExec(lab, VMID, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:28789/']).stdout,
    ).toBe('000');
  });
});
