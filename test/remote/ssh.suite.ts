import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { soleNode, type SshEndpoint } from '../../src/inventory';
import {
  HostKeyMismatch,
  RemoteAuthFailed,
  RemoteUnavailable,
  SshPool,
  hostKeyFingerprint,
} from '../../src/remote/ssh';
import type { Lab } from '../support/lab';
import { clientPortsToNode, inventoryOf, killNodeSessions } from './support';

/** The pooled ssh2 client against the lab node's real OpenSSH server. */
export const sshSuite = (labOfFile: () => Lab) =>
  describe('ssh to the node', () => {
    let lab: Lab;
    let node: SshEndpoint;
    const pool = new SshPool();
    beforeAll(() => {
      lab = labOfFile();
      node = soleNode(inventoryOf(lab));
    });
    afterEach(() => pool.close());

    it('computes fingerprints as ssh-keygen -l -E sha256 prints them', () => {
      expect(hostKeyFingerprint(Buffer.from('abc'))).toBe('SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0');
    });

    it('refuses a host whose key is not the pinned one, naming both fingerprints', async () => {
      const wrongPin = 'SHA256:' + 'A'.repeat(43);
      const error = await pool.exec({ ...node, hostKeySha256: wrongPin }, 'touch /tmp/should-not-run').catch((e) => e);
      expect(error).toBeInstanceOf(HostKeyMismatch);
      expect(error.name).toBe('HostKeyMismatch');
      expect(error.retryable).toBe(false);
      expect(error.seen).toBe(lab.nodes[0].hostKeySha256);
      expect(error.seenKeyType).toBe('ssh-ed25519');
      expect(error.message).toContain(lab.nodes[0].hostKeySha256);
      expect(error.message).toContain(wrongPin);
      expect(String(error.stack)).toMatch(/^HostKeyMismatch: /);
      expect(pool.stats()).toEqual({});
    });

    it('runs commands against the right pin: output, exit code, stdin', async () => {
      await expect(pool.exec(node, 'cat /etc/hostname; echo err >&2; exit 7')).resolves.toEqual({
        exitCode: 7,
        stdout: 'pve-lab\n',
        stderr: 'err\n',
      });
      await expect(pool.exec(node, 'wc -c; cat', 'héllo 用户\n')).resolves.toMatchObject({
        exitCode: 0,
        stdout: `${Buffer.byteLength('héllo 用户\n')}\n`,
      });
    });

    it('reuses one TCP connection for many commands, and caps the channels per connection', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) seen.add((await pool.exec(node, 'echo "$SSH_CONNECTION"')).stdout.split(' ')[1]);
      expect(seen.size).toBe(1); // the client port the node's sshd saw: one connection
      expect(clientPortsToNode(lab)).toEqual([Number([...seen][0])]);

      const parallel = await Promise.all(
        Array.from({ length: 20 }, () => pool.exec(node, 'sleep 0.3; echo "$SSH_CONNECTION"')),
      );
      const ports = new Set(parallel.map((r) => r.stdout.split(' ')[1]));
      expect(ports.size).toBeGreaterThanOrEqual(2); // 8 channels per connection at most
      expect(ports.size).toBeLessThanOrEqual(4);
    });

    it("keeps a pool's own limits: one connection of two channels runs four commands two at a time", async () => {
      const narrow = new SshPool({ maxChannelsPerConnection: 2, maxConnectionsPerEndpoint: 1 });
      try {
        const started = Date.now();
        const runs = await Promise.all(
          Array.from({ length: 4 }, () => narrow.exec(node, 'sleep 0.5; echo "$SSH_CONNECTION"')),
        );
        expect(new Set(runs.map((r) => r.stdout.split(' ')[1])).size).toBe(1);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // two rounds of 0.5 s
        expect(pool.stats()).toEqual({}); // the default pool opened nothing
      } finally {
        await narrow.close();
      }
    });

    it('replaces a connection that died, transparently for the next command', async () => {
      const first = (await pool.exec(node, 'echo "$SSH_CONNECTION"')).stdout;
      expect(killNodeSessions(lab)).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = await pool.exec(node, 'echo "$SSH_CONNECTION"');
      expect(second.exitCode).toBe(0);
      expect(second.stdout).not.toBe(first);
    });

    it('reports a command whose connection drops before its exit status as RemoteUnavailable', async () => {
      const running = pool.exec(node, 'sleep 5; echo done');
      await new Promise((resolve) => setTimeout(resolve, 500));
      killNodeSessions(lab);
      const error = await running.catch((e) => e);
      expect(error).toBeInstanceOf(RemoteUnavailable);
      expect(error.message).toMatch(/dropped before the command reported its exit status/);
      await expect(pool.exec(node, 'echo again')).resolves.toMatchObject({ stdout: 'again\n' });
    });

    it('tells an unreachable host and a refused key apart', async () => {
      const refused = await pool.exec({ ...node, port: 1 }, 'true').catch((e) => e);
      expect(refused).toBeInstanceOf(RemoteUnavailable);
      expect(refused.message).toMatch(/ECONNREFUSED/);

      const otherKey = join(lab.labDir, 'keys/pve-lab_host'); // a valid key the node does not accept for root
      const denied = await pool.exec({ ...node, privateKeyPath: otherKey }, 'true').catch((e) => e);
      expect(denied).toBeInstanceOf(RemoteAuthFailed);
      expect(denied.retryable).toBe(false);

      const missing = await pool.exec({ ...node, privateKeyPath: '/nonexistent/key' }, 'true').catch((e) => e);
      expect(missing).toBeInstanceOf(RemoteAuthFailed);
      expect(missing.message).toMatch(
        /cannot use the private key \/nonexistent\/key .*: cannot read \/nonexistent\/key \(ENOENT\)/,
      );
      // a device or a FIFO named by mistake is refused at once, never read without end or waited on
      const fifo = join(lab.labDir, 'not-a-key.fifo');
      spawnSync('mkfifo', [fifo]);
      for (const path of ['/dev/zero', fifo]) {
        const notAFile = await pool.exec({ ...node, privateKeyPath: path }, 'true').catch((e) => e);
        expect(notAFile).toBeInstanceOf(RemoteAuthFailed);
        expect(notAFile.message).toContain(`${path} is not a regular file`);
      }
      const garbage = await pool.exec({ ...node, privateKeyPath: `${lab.knownHostsPath}` }, 'true').catch((e) => e);
      expect(garbage).toBeInstanceOf(RemoteAuthFailed);
      expect(pool.stats()).toEqual({});
      await expect(pool.exec(node, 'echo fine')).resolves.toMatchObject({ stdout: 'fine\n' });
    });

    it('authenticates with the ssh agent when the endpoint names no key', async () => {
      const socket = join(lab.labDir, 'agent.sock');
      const agent = spawnSync('ssh-agent', ['-a', socket], { encoding: 'utf8' });
      const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1]);
      const saved = process.env.SSH_AUTH_SOCK;
      try {
        expect(
          spawnSync('ssh-add', [lab.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket } }).status,
        ).toBe(0);
        process.env.SSH_AUTH_SOCK = socket;
        const viaAgent: SshEndpoint = { ...node, privateKeyPath: undefined };
        await expect(pool.exec(viaAgent, 'echo agent')).resolves.toMatchObject({ exitCode: 0, stdout: 'agent\n' });
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
        if (agentPid > 0) process.kill(agentPid);
      }
    });

    it('gives up on a command that does not answer in time', async () => {
      const error = await pool.exec(node, 'sleep 10', undefined, { timeoutMs: 300 }).catch((e) => e);
      expect(error).toBeInstanceOf(RemoteUnavailable);
      expect(error.message).toMatch(/no answer .* within 0\.3 s/);
    });

    it('closes every pooled connection on shutdown', async () => {
      await Promise.all([pool.exec(node, 'true'), pool.exec(node, 'true')]);
      expect(clientPortsToNode(lab).length).toBeGreaterThan(0);
      await pool.close();
      expect(pool.stats()).toEqual({});
      expect(clientPortsToNode(lab)).toEqual([]);
    });
  });
