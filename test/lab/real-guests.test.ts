import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearFault, guestExec, guestInit, injectFault, labStatus, labUp, waitForGuestBoot } from '../../lab/lab';
import { DOCKER_ERA_IMAGES } from '../../lab/guest-image';
import { waitFor } from '../../lab/shared/wait';
import { directSsh, nodeSsh, startLab, stopLab, type Lab } from '../support/lab';

/**
 * `lab up`: the guests run Debian 12's own systemd, Docker and qemu-ga, met through the node's qm. 105 has
 * the record's `restart: unless-stopped`, 106 `restart: always` and its own sshd (seed 004's direct SSH).
 */
describe('the lab on real guest software', () => {
  let lab: Lab;
  // The first run on a machine builds the guest image (mmdebstrap, the compose plugin, the Docker images).
  beforeAll(async () => {
    lab = await startLab({ guests: 2, directSsh: [106], faults: [{ vmid: 106, kind: 'restart-always' }] });
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
        `openclaw-gateway running ${DOCKER_ERA_IMAGES.gateway}\n` +
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
      'out-data': readFileSync(`/proc/${guestInit(lab, 105)}/root/etc/os-release`, 'utf8'),
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

  const containers = (vmid: number) =>
    inGuest(vmid, 'docker', 'ps', '-a', '--format', '{{.Names}} {{.State}}').split('\n').sort().join(', ');
  const agentAnswers = (vmid: number) =>
    waitFor(() => nodeSsh(lab, ['qm', 'guest', 'cmd', String(vmid), 'ping']).status === 0, {
      timeoutMs: 60_000,
      pollMs: 500,
      timeoutMessage: `${vmid}'s agent did not answer`,
    });

  it('plays guest-reboot and agent-restart at run time only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-'));
    try {
      for (const kind of ['guest-reboot', 'agent-restart'] as const) {
        await expect(labUp({ faults: [{ vmid: 105, kind }] }, dir)).rejects.toThrow(
          `lab: fault ${kind} is given at run time only`,
        );
      }
      expect(readdirSync(dir)).toEqual([]); // refused before anything started
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reboots as a VM: a new systemd on the same disk, enabled units and Docker's restart policy back", async () => {
    const bootIds = new Map<number, string>();
    const inits = new Map<number, number>();
    for (const vmid of [105, 106]) {
      inGuest(vmid, '/bin/bash', '-c', 'echo "written before the reboot" > /root/before-reboot.txt');
      // an enabled unit of the guest's own, as the direct install's will be
      inGuest(
        vmid,
        '/bin/bash',
        '-c',
        'printf "[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n" ' +
          '> /etc/systemd/system/lab-probe.service && systemctl enable --now --quiet lab-probe',
      );
      // compose reports its progress on stderr
      expect(guestExec(lab, vmid, ['docker', 'compose', '-f', '/opt/openclaw/docker-compose.yml', 'stop']).status).toBe(
        0,
      );
      expect(containers(vmid)).toBe('openclaw-gateway exited, openclaw-panel exited');
      bootIds.set(vmid, inGuest(vmid, 'cat', '/proc/sys/kernel/random/boot_id'));
      inits.set(vmid, guestInit(lab, vmid));
    }

    for (const vmid of [105, 106]) injectFault(lab, { vmid, kind: 'guest-reboot' });
    for (const vmid of [105, 106]) {
      const init = await waitForGuestBoot(lab, vmid, inits.get(vmid)!);
      expect(init).not.toBe(inits.get(vmid));
      expect(guestInit(lab, vmid)).toBe(init);
    }

    for (const vmid of [105, 106]) {
      expect(inGuest(vmid, 'ps', '-p', '1', '-o', 'comm=')).toBe('systemd');
      expect(inGuest(vmid, 'cat', '/proc/sys/kernel/random/boot_id')).not.toBe(bootIds.get(vmid));
      expect(inGuest(vmid, 'cat', '/root/before-reboot.txt')).toBe('written before the reboot');
      expect(inGuest(vmid, 'systemctl', 'is-active', 'lab-probe', 'nginx', 'docker', 'qemu-guest-agent')).toBe(
        'active\nactive\nactive\nactive',
      );
      // /var/lib/docker survived: the images are still there, without a `docker load`
      expect(inGuest(vmid, 'docker', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}').split('\n').sort()).toEqual(
        [DOCKER_ERA_IMAGES.panel, DOCKER_ERA_IMAGES.gateway],
      );
    }
    // dockerd starts `restart: always` containers at boot even after `compose stop`; `unless-stopped` ones stay down
    await waitFor(() => containers(106) === 'openclaw-gateway running, openclaw-panel running', {
      timeoutMs: 60_000,
      pollMs: 1000,
      timeoutMessage: `106's restart: always containers did not come back after the reboot: ${containers(106)}`,
    });
    expect(containers(105)).toBe('openclaw-gateway exited, openclaw-panel exited');

    // The network came back: the agent on the node's socket, the release endpoint, the guest's own sshd.
    for (const vmid of [105, 106]) {
      await agentAnswers(vmid);
      expect(nodeSsh(lab, ['qm', 'status', String(vmid)]).stdout).toBe('status: running\n');
      const { baseUrl, repo, tag } = lab.panelRelease;
      expect(
        inGuest(
          vmid,
          'curl',
          '-sSL',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `${baseUrl}/repos/${repo}/tarball/${tag}`,
        ),
      ).toBe('200');
    }
    const ssh = directSsh(lab, 106, 'cat /proc/sys/kernel/random/boot_id; cat /root/before-reboot.txt');
    expect(ssh.stderr).toBe('');
    expect(ssh.stdout).toBe(`${inGuest(106, 'cat', '/proc/sys/kernel/random/boot_id')}\nwritten before the reboot\n`);
  }, 600_000);

  it("agent-restart kills a running guest exec's child; qm then answers as qemu-ga 7.2 does, and the next exec works", async () => {
    await agentAnswers(105);
    const started = nodeSsh(lab, ['qm', 'guest', 'exec', '105', '--synchronous', '0', '--', 'sleep', '600']);
    expect(started.stderr).toBe('');
    const { pid } = JSON.parse(started.stdout) as { pid: number };
    const sleeping = () => guestExec(lab, 105, ['pgrep', '-x', '-f', 'sleep 600']).stdout.trim();
    const child = await waitFor(() => sleeping() || undefined, {
      timeoutMs: 30_000,
      pollMs: 200,
      timeoutMessage: "the guest exec's sleep did not show in the guest",
    });
    expect(child).toBe(String(pid)); // qemu-ga's pid is the guest's pid of its child
    expect(inGuest(105, 'cat', `/proc/${child}/cgroup`)).toMatch(/qemu-guest-agent\.service$/);

    injectFault(lab, { vmid: 105, kind: 'agent-restart' });
    expect(sleeping()).toBe('');
    await agentAnswers(105);
    const status = nodeSsh(lab, ['qm', 'guest', 'exec-status', '105', String(pid)]);
    expect(status.status).not.toBe(0);
    expect(status.stderr).toMatch(/Invalid parameter 'pid'/);

    const next = nodeSsh(lab, ['qm', 'guest', 'exec', '105', '--', 'echo', 'after the restart']);
    expect(next.stderr).toBe('');
    expect(JSON.parse(next.stdout)).toMatchObject({ exitcode: 0, exited: 1, 'out-data': 'after the restart\n' });
  }, 300_000);

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
