import { guestExec } from '../../lab/lab';
import * as sop from './sop-commands';
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

  it('§5.1 scan shows what the record shows before a migration', () => {
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

    // The gateway needs some seconds to listen after systemctl starts it; the operator waits for it.
    const waitForGateway = `for i in $(seq 1 120); do curl -fs -o /dev/null http://127.0.0.1:28789/health && exit 0; sleep 0.5; done
journalctl -u openclaw-gateway -n 30 --no-pager; exit 1`;
    out(waitForGateway);
    const acceptance = out(sop.acceptance);
    expect(acceptance).toMatch(/^panel-direct:200$/m);
    expect(acceptance).toMatch(/^gateway-direct:200$/m);
    expect(acceptance).toMatch(/^panel-front:401$/m);
    expect(acceptance).toMatch(/^gateway-front:401$/m);
    expect(acceptance).toMatch(/"currentTag":"2026\.9\.6"/);
    expect(acceptance).toMatch(new RegExp(`"currentTag":"${lab.panelRelease.tag}"`));

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
    // OpenClaw 2026.9 imports legacy session files into SQLite at its first start and moves each file to
    // agents/main/session-sqlite-import-archive/ (a Docker-era 2026.9.6 gateway has done so on the source already, so
    // the SOP's count of sessions/ alone can read 0 there, though nothing is lost): the files are all there, across
    // the two directories, on both sides.
    const sessionFiles = (stateDir: string) =>
      guestExec(lab, VMID, [
        'find',
        `${stateDir}/agents/main/sessions`,
        `${stateDir}/agents/main/session-sqlite-import-archive`,
        '-type',
        'f',
      ])
        .stdout.trim()
        .split('\n');
    // the seeded state's three sessions (lab/guest/seed-state.sh): their transcripts and sessions.json
    expect(sessionFiles('/data/openclaw').length).toBeGreaterThanOrEqual(4);
    expect(sessionFiles('/root/.openclaw')).toHaveLength(sessionFiles('/data/openclaw').length);

    // The services really are systemctl's: stopping the gateway closes its port.
    expect(guestExec(lab, VMID, ['systemctl', 'is-active', 'openclaw-gateway']).stdout).toBe('active\n');
    guestExec(lab, VMID, ['systemctl', 'stop', 'openclaw-gateway']);
    expect(
      guestExec(lab, VMID, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:28789/']).stdout,
    ).toBe('000');
  });
});
