import { readFileSync } from 'node:fs';
import { clearFault, guestExec, injectFault, labStatus } from '../../lab/lab';
import { waitFor } from '../../lab/shared/wait';
import { directSsh, nodeSsh, startLab, stopLab, type Lab } from '../support/lab';

/** `lab up --real`: the guests run Debian 12's own systemd, Docker and qemu-ga, met through the node's qm. */
describe('the lab on real guest software', () => {
  let lab: Lab;
  // The first run on a machine builds the guest image (mmdebstrap, the compose plugin, the Docker images).
  beforeAll(async () => {
    lab = await startLab({ guests: 2, directSsh: [106] });
  }, 1_800_000);
  afterAll(() => stopLab(lab), 120_000);

  const inGuest = (vmid: number, ...argv: string[]) => {
    const run = guestExec(lab, vmid, argv);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    return run.stdout.trim();
  };

  it('boots systemd as PID 1 with nginx, the Docker engine and both Docker-era containers up', () => {
    for (const guest of lab.guests) {
      expect(inGuest(guest.vmid, 'ps', '-p', '1', '-o', 'comm=')).toBe('systemd');
      expect(inGuest(guest.vmid, 'systemctl', 'is-active', 'nginx', 'docker', 'qemu-guest-agent')).toBe(
        'active\nactive\nactive',
      );
      expect(inGuest(guest.vmid, 'docker', 'version', '--format', '{{.Server.Os}} {{.Server.Version}}')).toMatch(
        /^linux 20\.10\./,
      );
      expect(
        inGuest(
          guest.vmid,
          'docker',
          'compose',
          '-f',
          '/opt/openclaw/docker-compose.yml',
          'ps',
          '--format',
          '{{.Name}} {{.State}} {{.Image}}',
        ),
      ).toBe(
        'openclaw-gateway running ghcr.io/openclaw/openclaw:2026.2.19\n' +
          'openclaw-panel running ghcr.io/bianshumeng/openclaw-panel:v2026.02.10',
      );
      expect(inGuest(guest.vmid, 'hostname')).toBe(guest.name);
    }
  });

  it('serves the panel through the real nginx and the Docker-published port, behind basic auth', () => {
    const login = guestExec(lab, 105, ['cat', '/root/OPENCLAW_WEB_LOGIN.txt']).stdout;
    const password = /password: (\S+)/.exec(login)![1];
    const code = (...args: string[]) =>
      inGuest(105, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', ...args);
    expect(code('http://127.0.0.1:28080/')).toBe('200');
    expect(code('http://127.0.0.1:18080/')).toBe('401');
    expect(code('-u', `admin:${password}`, 'http://127.0.0.1:18080/api/health')).toBe('200');
  });

  it("answers qm guest exec on the node from the real qemu-ga, with qemu-ga's out-truncated", () => {
    const exec = nodeSsh(lab, ['qm', 'guest', 'exec', '105', '--', 'cat', '/etc/os-release']);
    expect(exec.stderr).toBe('');
    expect(exec.status).toBe(0);
    const result = JSON.parse(exec.stdout) as Record<string, unknown>;
    expect(result).toEqual({
      exitcode: 0,
      exited: 1,
      'out-data': readFileSync(`/proc/${lab.guests[0].initPid}/root/etc/os-release`, 'utf8'),
      'out-truncated': 0,
    });
    expect(result['out-data']).toMatch(/VERSION_CODENAME=bookworm/);
    expect(nodeSsh(lab, ['qm', 'status', '105']).stdout).toBe('status: running\n');
  });

  it('plays agent-down by stopping the agent service, and brings it back', async () => {
    injectFault(lab, { vmid: 106, kind: 'agent-down' });
    const ping = nodeSsh(lab, ['qm', 'guest', 'cmd', '106', 'ping']);
    expect(ping.status).not.toBe(0);
    expect(ping.stderr).toMatch(/QEMU guest agent is not running/);
    expect(inGuest(105, 'systemctl', 'is-active', 'qemu-guest-agent')).toBe('active');
    clearFault(lab, { vmid: 106, kind: 'agent-down' });
    await waitFor(() => nodeSsh(lab, ['qm', 'guest', 'cmd', '106', 'ping']).status === 0, {
      timeoutMs: 60_000,
      pollMs: 500,
      timeoutMessage: "106's agent did not answer again after its service was started",
    });
    expect((await labStatus(lab.labDir)).guests.map((guest) => guest.agent)).toEqual([true, true]);
  });

  it("lets the operator's key into a direct-SSH guest's real sshd, pinned by its own host key", () => {
    const ssh = directSsh(lab, 106, 'ps -p 1 -o comm=');
    expect(ssh.stderr).toBe('');
    expect(ssh.stdout).toBe('systemd\n');
  });

  it('has qm status follow the guest: stopped once its systemd powered it off', async () => {
    guestExec(lab, 106, ['systemctl', 'poweroff']);
    await waitFor(() => nodeSsh(lab, ['qm', 'status', '106']).stdout === 'status: stopped\n', {
      timeoutMs: 120_000,
      pollMs: 1000,
      timeoutMessage: 'qm status 106 did not say stopped after the guest powered off',
    });
    expect(nodeSsh(lab, ['qm', 'status', '105']).stdout).toBe('status: running\n');
  });
});
