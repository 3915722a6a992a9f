import { waitFor } from '../../lab/shared/wait';
import { clearFault, injectFault } from '../../lab/lab';
import { nodeSsh, type Lab } from '../support/lab';

/** qm's behaviours as an operator meets them: through the node's real sshd. */
export const qmOverSshSuite = (labOfFile: () => Lab) =>
  describe('qm on the lab node, over ssh', () => {
    let lab: Lab;
    beforeAll(() => {
      lab = labOfFile();
      injectFault(lab, { vmid: 106, kind: 'agent-down' });
    });
    afterAll(async () => {
      clearFault(lab, { vmid: 106, kind: 'agent-down' });
      await waitFor(() => qm('guest', 'cmd', '106', 'ping').status === 0, {
        timeoutMs: 60_000,
        pollMs: 500,
        timeoutMessage: "106's agent did not come back",
      });
    });

    const qm = (...args: string[]) => nodeSsh(lab, ['qm', ...args]);
    const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

    it('refuses an unknown host key', () => {
      const wrong = nodeSsh({ ...lab, knownHostsPath: '/dev/null' }, ['true']);
      expect(wrong.status).toBe(255);
      expect(wrong.stderr).toMatch(/Host key verification failed/);
    });

    it('runs a command synchronously and returns its output and exit code', () => {
      const result = qm('guest', 'exec', '105', '--', '/bin/sh', '-c', 'hostname; echo oops >&2; exit 3');
      expect(result.status).toBe(0);
      // toMatchObject: the real qemu-ga also tells whether each output was truncated
      expect(json(result.stdout)).toMatchObject({
        exitcode: 3,
        exited: 1,
        'out-data': 'vm-lab-0001\n',
        'err-data': 'oops\n',
      });
    });

    it('returns the pid when the timeout passes, and the command goes on to finish', async () => {
      // 20 s: long enough that a loaded machine's ssh round trips cannot outlast it before the first look
      const started = qm('guest', 'exec', '105', '--timeout', '1', '--', '/bin/sh', '-c', 'sleep 20; echo late');
      expect(started.stderr).toMatch(/timeout reached, returning pid/);
      const { pid } = json(started.stdout) as { pid: number };
      expect(json(qm('guest', 'exec-status', '105', String(pid)).stdout)).toEqual({ exited: 0 });
      // the agent forgets a finished command once its status was read: keep that one answer
      const finished = await waitFor(
        () => {
          const status = json(qm('guest', 'exec-status', '105', String(pid)).stdout);
          return status.exited === 1 && status;
        },
        { timeoutMs: 120_000, pollMs: 1000, timeoutMessage: `pid ${pid} did not finish` },
      );
      expect(finished).toMatchObject({
        exited: 1,
        exitcode: 0,
        'out-data': 'late\n',
      });
    });

    it('starts a command asynchronously with --synchronous 0', async () => {
      const { pid } = json(qm('guest', 'exec', '105', '--synchronous', '0', '--', '/bin/echo', 'async').stdout) as {
        pid: number;
      };
      expect(pid).toBeGreaterThan(0);
      let status: Record<string, unknown> = { exited: 0 };
      for (let i = 0; i < 50 && !status.exited; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = json(qm('guest', 'exec-status', '105', String(pid)).stdout);
      }
      expect(status).toMatchObject({ exited: 1, exitcode: 0, 'out-data': 'async\n' });
    });

    it('forwards stdin up to 1 MiB and refuses more', () => {
      const small = nodeSsh(
        lab,
        ['qm', 'guest', 'exec', '105', '--pass-stdin', '1', '--', '/usr/bin/wc', '-c'],
        'x'.repeat(1000),
      );
      expect(json(small.stdout)['out-data']).toBe('1000\n');
      const big = nodeSsh(
        lab,
        ['qm', 'guest', 'exec', '105', '--pass-stdin', '1', '--', '/usr/bin/wc', '-c'],
        'x'.repeat(1024 * 1024 + 1),
      );
      expect(big.status).not.toBe(0);
      expect(big.stderr).toMatch(/1 MiB|maximum input size|too large/i);
    });

    it('says so for an unknown vmid', () => {
      const result = qm('status', '999');
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/999\.conf' does not exist/);
    });

    it('tells a guest whose agent is down from one whose agent answers', () => {
      expect(qm('guest', 'cmd', '105', 'ping').status).toBe(0);
      expect(qm('status', '106').stdout).toBe('status: running\n');
      const down = qm('guest', 'cmd', '106', 'ping');
      expect(down.status).not.toBe(0);
      expect(down.stderr).toMatch(/QEMU guest agent is not running/);
    });
  });
