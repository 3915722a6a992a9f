import { clearFault, guestExec, injectFault } from '../../lab/lab';
import * as sop from './sop-commands';
import { nodeSsh, sopStep, startLab, stopLab, type Lab } from '../support/lab';

/**
 * Each injectable fault, seen from where the SOP's work meets it. A real guest holds ~1.5 GB, so four guests carry
 * the seven faults, two to a guest where they strike at different steps (the install, Docker's stop, the backup).
 */
describe('lab faults', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({
      guests: 4,
      bigFileMiB: 8, // a backup that takes a moment, as real ones do
      faults: [
        { vmid: 105, kind: 'install-hang' },
        { vmid: 105, kind: 'port-taken' },
        { vmid: 106, kind: 'disk-full' },
        { vmid: 107, kind: 'backup-corrupt' },
        { vmid: 107, kind: 'unit-fails' },
        { vmid: 108, kind: 'ssh-drop' },
        { vmid: 108, kind: 'gateway-500' },
      ],
    });
  }, 900_000);
  afterAll(() => stopLab(lab));

  const inGuest = (vmid: number, script: string) => guestExec(lab, vmid, ['/bin/bash', '-c', script]);

  it('install-hang: the installer waits for input even with --no-prompt, and qm gives up waiting', () => {
    const started = nodeSsh(lab, [
      'qm',
      'guest',
      'exec',
      '105',
      '--timeout',
      '3',
      '--',
      '/bin/bash',
      '-lc',
      lab.installCommand,
    ]);
    expect(started.stderr).toMatch(/timeout reached, returning pid/);
    const { pid } = JSON.parse(started.stdout) as { pid: number };
    expect(JSON.parse(nodeSsh(lab, ['qm', 'guest', 'exec-status', '105', String(pid)]).stdout)).toEqual({ exited: 0 });
    // [i]: the pattern must not match the shell that runs pgrep, whose command line holds it too
    expect(inGuest(105, "pgrep -f '[i]nstall-openclaw.sh'").status).toBe(0);
  });

  it('disk-full: the SOP backup fails for lack of space', () => {
    const backup = sopStep(lab, 106, sop.backup, '106');
    expect(backup.exitcode).not.toBe(0);
    expect(backup['err-data']).toMatch(/No space left on device/);
  });

  it('backup-corrupt: the backup is written, then its verification fails', async () => {
    const backupDir = sopStep(lab, 107, sop.backup, '107')['out-data']!.trim();
    await new Promise((r) => setTimeout(r, 500)); // the corruption lands just after the checksums
    const verify = sopStep(lab, 107, sop.verifyBackup, backupDir);
    // The SOP's verification has no `set -e`: its exit code is the last tar's, 0, even now. Read its output.
    expect(verify.exitcode).toBe(0);
    expect(verify['out-data']).toMatch(/data-openclaw\.tgz: FAILED/);
    expect(verify['err-data']).toMatch(/WARNING: 1 computed checksum did NOT match/);
  });

  it('ssh-drop: the connection dies mid-command, the command finishes in the guest, a retry goes through', async () => {
    const dropped = nodeSsh(lab, [
      'qm',
      'guest',
      'exec',
      '108',
      '--',
      '/bin/sh',
      '-c',
      'sleep 1; echo done > /root/ssh-drop-proof',
    ]);
    expect(dropped.status).toBe(255);
    await new Promise((r) => setTimeout(r, 1500));
    expect(inGuest(108, 'cat /root/ssh-drop-proof').stdout).toBe('done\n');
    expect(nodeSsh(lab, ['qm', 'guest', 'exec', '108', '--', '/bin/echo', 'again']).status).toBe(0);
  });

  it('port-taken: once Docker stops, something else holds 127.0.0.1:28789', async () => {
    expect(sopStep(lab, 105, sop.stopDocker).exitcode).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(inGuest(105, 'ss -lntp | grep 127.0.0.1:28789').stdout).toMatch(/socat/);
  });

  it('unit-fails and gateway-500: the installed gateway fails to start, or answers 500', async () => {
    for (const vmid of [107, 108]) expect(sopStep(lab, vmid, sop.install, lab.installCommand).exitcode).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const failing = inGuest(107, 'openclaw gateway run --bind loopback --port 28790 --allow-unconfigured');
    expect(failing.status).toBe(1);
    expect(inGuest(107, 'openclaw --version').stdout).toMatch(/2026\.9\.6/);

    inGuest(
      108,
      'setsid openclaw gateway run --bind loopback --port 28790 --allow-unconfigured </dev/null >/dev/null 2>&1 &',
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(inGuest(108, 'curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:28790/').stdout).toBe('500');
  });

  it('agent-down at run time, and taken back', async () => {
    injectFault(lab, { vmid: 106, kind: 'agent-down' });
    expect(nodeSsh(lab, ['qm', 'guest', 'cmd', '106', 'ping']).stderr).toMatch(/QEMU guest agent is not running/);
    clearFault(lab, { vmid: 106, kind: 'agent-down' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(nodeSsh(lab, ['qm', 'guest', 'cmd', '106', 'ping']).status).toBe(0);
  });
});
