import { clearFault, guestExec, injectFault } from '../../lab/lab';
import { soleNode, type SshEndpoint } from '../../src/inventory';
import {
  GuestExecFailed,
  GuestCommandTimeout,
  GuestUnreachable,
  InvalidGuestCommand,
  QgaGuest,
  RemoteUnavailable,
  guestFor,
  nodeFor,
  type GuestProgress,
  sshPool,
} from '../../src/remote';
import { nodeSsh, type Lab } from '../support/lab';
import {
  ECHO_ARGS_SCRIPT,
  HOSTILE_VALUES,
  encodedArgs,
  inventoryOf,
  killNodeSessions,
  marker,
  waitUntil,
} from './support';

/** QgaGuest against the lab: qm on a real sshd, the QGA protocol to each guest's agent, real processes. */
export const qgaSuite = (labOfFile: () => Lab) =>
  describe('a guest through qm guest exec', () => {
    let lab: Lab;
    let node: SshEndpoint;
    let guest: QgaGuest;
    beforeAll(() => {
      lab = labOfFile();
      node = soleNode(inventoryOf(lab));
      guest = new QgaGuest(sshPool, 105, node, { killGraceMs: 1000 });
    });
    afterAll(() => sshPool.close());

    const inGuest = (vmid: number, script: string, ...args: string[]) =>
      guestExec(lab, vmid, ['/bin/bash', '-c', script, 'test', ...args]);
    /** the guest processes whose command line holds `text` */
    const processesWith = (text: string) =>
      inGuest(
        105,
        'for p in /proc/[0-9]*; do tr "\\0" " " <$p/cmdline 2>/dev/null; echo; done | grep -F -- "$1" || true',
        text,
      )
        .stdout.split('\n')
        .filter((line) => line && !line.includes('grep -F'));

    /** which Proxmox VE's words the node's qm speaks from now on (the lab's `pve` option, switched in place) */
    const speakPve = (pve: '8' | '9') =>
      expect(nodeSsh(lab, ['/bin/sh', '-c', 'echo "$1" >/etc/openclaw-lab/pve', 'speak', pve]).status).toBe(0);

    it('returns a script’s output and exit code', async () => {
      const result = await guest.run({
        label: 'hello',
        script: 'hostname; echo "to stderr" >&2; exit 4',
        timeoutMs: 10_000,
      });
      expect(result).toEqual({ exitCode: 4, stdout: 'vm-lab-0001\n', stderr: 'to stderr\n' });
      expect(guest.description).toBe(`vm 105 via qm on root@127.0.0.1:${lab.nodes[0].sshPort}`);
    });

    it('waits for a 6 s command on the node: progress while it runs, the command in the guest’s process list', async () => {
      const label = marker('slow');
      const progress: GuestProgress[] = [];
      const seenWhileWaiting: string[][] = [];
      const started = Date.now();
      const result = await guest.run(
        { label, script: 'sleep 6; echo "finished $1"', args: ['ok'], timeoutMs: 30_000 },
        {
          onProgress: (p) => {
            progress.push(p);
            if (progress.length === 2) seenWhileWaiting.push(processesWith(label));
          },
        },
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(6000);
      expect(result).toEqual({ exitCode: 0, stdout: 'finished ok\n', stderr: '' });
      // detached (--synchronous 0) and waited for in slices (2 s, then growing): a heartbeat after each, naming the pid
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(new Set(progress.map((p) => p.pid)).size).toBe(1);
      expect(progress.map((p) => p.elapsedMs)).toEqual([...progress.map((p) => p.elapsedMs)].sort((a, b) => a - b));
      // while run() was still waiting, the command ran in the guest, under its label ($0) and with that pid
      expect(seenWhileWaiting[0].some((line) => line.startsWith(`/bin/bash -c sleep 6`) && line.includes(label))).toBe(
        true,
      );
      expect(processesWith(label)).toEqual([]);
    });

    it('delivers stdin', async () => {
      const stdin = 'line 1\nline "2" $(no)\n用户 文件\n';
      const result = await guest.run({ label: 'stdin', script: 'tee /dev/stderr | wc -c', stdin, timeoutMs: 10_000 });
      expect(result).toEqual({ exitCode: 0, stdout: `${Buffer.byteLength(stdin)}\n`, stderr: stdin });
    });

    it('round-trips non-ASCII output (qm double-encodes it)', async () => {
      const result = await guest.run({
        label: 'utf8',
        script: 'echo "用户 文件 $1"; printf "héllo\\n" >&2',
        args: ['ü€😀'],
        timeoutMs: 10_000,
      });
      expect(result).toEqual({ exitCode: 0, stdout: '用户 文件 ü€😀\n', stderr: 'héllo\n' });
    });

    it('passes hostile values byte for byte as $1…, and runs nothing of them', async () => {
      const result = await guest.run({
        label: 'hostile',
        script: ECHO_ARGS_SCRIPT,
        args: HOSTILE_VALUES,
        timeoutMs: 10_000,
      });
      expect(result.exitCode).toBe(0);
      const [zero, args] = result.stdout.split('\n');
      expect(Buffer.from(zero, 'base64').toString()).toBe('hostile');
      expect(args).toBe(encodedArgs(HOSTILE_VALUES));
      expect(inGuest(105, 'ls /tmp/pwned 2>&1; ls / | grep -c pwned').stdout).toMatch(/No such file/);
      expect(nodeSsh(lab, ['ls', '/tmp/pwned']).status).not.toBe(0);
    });

    it('kills the command’s whole tree at the timeout and reports its last output', async () => {
      const tag = marker('timeout');
      const error = await guest
        .run({
          label: 'will-time-out',
          script: `echo "partial output"; echo "some trouble" >&2
          bash -c 'trap "" TERM; while :; do sleep 1; done' "$1-ignores-term" &
          bash -c 'while :; do sleep 1; done' "$1-child" &
          sleep 60`,
          args: [tag],
          timeoutMs: 1500,
        })
        .catch((e) => e);
      expect(error).toBeInstanceOf(GuestCommandTimeout);
      expect(error.name).toBe('GuestCommandTimeout');
      expect(error.killed).toBe(true);
      expect(error.stdout).toBe('partial output\n');
      expect(error.stderr).toBe('some trouble\n');
      expect(error.message).toMatch(
        /will-time-out \(pid \d+, vm 105 .*\) did not finish within 1.5 s: killed it; last output: "partial output/,
      );
      expect(processesWith(tag)).toEqual([]); // the TERM-ignoring grandchild too (it got KILL)
      expect(processesWith('sleep 60')).toEqual([]);
    });

    it('kills the command when the run is aborted, and rejects with the abort reason', async () => {
      const tag = marker('abort');
      const controller = new AbortController();
      const running = guest.run(
        { label: 'aborted', script: 'bash -c "while :; do sleep 1; done" "$1" & wait', args: [tag], timeoutMs: 60_000 },
        {
          signal: controller.signal,
          onProgress: (p) => p.elapsedMs > 800 && controller.abort(new Error('cancelled by test')),
        },
      );
      await expect(running).rejects.toThrow('cancelled by test');
      expect(processesWith(tag)).toEqual([]);
    });

    describe('resuming an earlier attempt’s command (resumePid)', () => {
      const script = 'n=$(cat "$1" 2>/dev/null || echo 0); echo $((n + 1)) >"$1"; sleep "$2"; echo "runs: $(cat "$1")"';
      /** starts the command as an earlier attempt would have, and forgets about it */
      const startEarlier = (counter: string, seconds: string) => {
        const qm = nodeSsh(lab, [
          'qm',
          'guest',
          'exec',
          '105',
          '--synchronous',
          '0',
          '--',
          '/bin/bash',
          '-c',
          script,
          'once',
          counter,
          seconds,
        ]);
        return (JSON.parse(qm.stdout) as { pid: number }).pid;
      };
      const counterIn = (file: string) => inGuest(105, 'cat "$1"', file).stdout;

      it('waits for one still running instead of starting a second copy', async () => {
        const counter = `/tmp/${marker('counter')}`;
        const pid = startEarlier(counter, '2');
        const progress: number[] = [];
        const result = await guest.run(
          { label: 'once', script, args: [counter, '2'], timeoutMs: 10_000 },
          { resumePid: pid, onProgress: (p) => progress.push(p.pid) },
        );
        expect(result).toEqual({ exitCode: 0, stdout: 'runs: 1\n', stderr: '' });
        expect(new Set(progress)).toEqual(new Set([pid]));
        expect(counterIn(counter)).toBe('1\n');
      });

      it('returns the unread result of one that finished meanwhile', async () => {
        const counter = `/tmp/${marker('counter')}`;
        const pid = startEarlier(counter, '0');
        await waitUntil('the earlier command', () => counterIn(counter) === '1\n');
        await new Promise((resolve) => setTimeout(resolve, 300));
        const result = await guest.run(
          { label: 'once', script, args: [counter, '0'], timeoutMs: 10_000 },
          { resumePid: pid },
        );
        expect(result.stdout).toBe('runs: 1\n');
        expect(counterIn(counter)).toBe('1\n');
      });

      it('starts afresh when the guest does not know the pid', async () => {
        const counter = `/tmp/${marker('counter')}`;
        const result = await guest.run(
          { label: 'once', script, args: [counter, '0'], timeoutMs: 10_000 },
          { resumePid: 99_999 },
        );
        expect(result.stdout).toBe('runs: 1\n');
      });
    });

    it('keeps waiting across a connection that dies while it waits', async () => {
      let killed = 0;
      let scheduled = false;
      const result = await guest.run(
        { label: 'survives', script: 'sleep 4; echo survived', timeoutMs: 30_000 },
        {
          onProgress: () => {
            if (scheduled) return;
            scheduled = true;
            // in the middle of the first wait on the node
            setTimeout(() => (killed = killNodeSessions(lab)), 700);
          },
        },
      );
      expect(killed).toBeGreaterThan(0);
      expect(result.stdout).toBe('survived\n');
    });

    it('surfaces the ssh-drop fault at the start as RemoteUnavailable; a second run succeeds', async () => {
      const counter = `/tmp/${marker('counter')}`;
      const script = 'n=$(cat "$1" 2>/dev/null || echo 0); echo $((n + 1)) >"$1"; echo "runs: $(cat "$1")"';
      const other = new QgaGuest(sshPool, 106, node);
      injectFault(lab, { vmid: 106, kind: 'ssh-drop' });
      const error = await other.run({ label: 'dropped', script, args: [counter], timeoutMs: 10_000 }).catch((e) => e);
      expect(error).toBeInstanceOf(RemoteUnavailable);
      expect(error.name).toBe('RemoteUnavailable');
      expect(error.retryable).toBe(true);
      const again = await other.run({ label: 'dropped', script, args: [counter], timeoutMs: 10_000 });
      expect(again.exitCode).toBe(0);
      // The cut-off start had already started the command in the guest: a retry runs it again (at least once).
      expect(inGuest(106, 'cat "$1"', counter).stdout).toBe('2\n');
    });

    it('refuses what it cannot pass on faithfully, before anything runs', async () => {
      const run = (command: Partial<Parameters<QgaGuest['run']>[0]>) =>
        guest.run({ label: 'x', script: 'true', timeoutMs: 1000, ...command }).catch((e) => e);
      expect(await run({ label: '../etc' })).toBeInstanceOf(InvalidGuestCommand);
      expect(await run({ args: ['a\0b'] })).toBeInstanceOf(InvalidGuestCommand);
      expect(await run({ stdin: 'x'.repeat(1024 * 1024 + 1) })).toBeInstanceOf(InvalidGuestCommand);
      expect(await run({ script: 'x'.repeat(200_000) })).toBeInstanceOf(InvalidGuestCommand);
    });

    // Proxmox VE 8 and 9.1 word an agent's transport failures apart (test/remote/qm-failure.test.ts has both); Agent.pm
    // pings the agent before every command, so an outage reads alike in both, and so must the product's answers.
    describe.each(['8', '9'] as const)('with the node’s qm in Proxmox VE %s wording', (pve) => {
      beforeAll(() => speakPve(pve));
      afterAll(() => speakPve('9'));

      it('reads a status without output, and with output on one stream only (out-truncated absent or false)', async () => {
        await expect(guest.run({ label: 'silent', script: 'exit 3', timeoutMs: 10_000 })).resolves.toEqual({
          exitCode: 3,
          stdout: '',
          stderr: '',
        });
        await expect(guest.run({ label: 'err-only', script: 'echo oops >&2', timeoutMs: 10_000 })).resolves.toEqual({
          exitCode: 0,
          stdout: '',
          stderr: 'oops\n',
        });
      });

      it('says GuestUnreachable, with qm’s words, when the agent is down', async () => {
        const other = guestFor({ vmid: 106, transport: 'qga', node });
        expect(guestFor({ vmid: 106, transport: 'qga', node })).toBe(other);
        injectFault(lab, { vmid: 106, kind: 'agent-down' });
        try {
          const error = await other.run({ label: 'nobody-home', script: 'true', timeoutMs: 5000 }).catch((e) => e);
          expect(error).toBeInstanceOf(GuestUnreachable);
          expect(error.message).toMatch(/QEMU guest agent is not running/);
        } finally {
          clearFault(lab, { vmid: 106, kind: 'agent-down' });
        }
        await waitUntil(
          'the agent',
          async () => (await nodeFor(node).qm(['guest', 'cmd', '106', 'ping'])).exitCode === 0,
        );
        await expect(other.run({ label: 'back', script: 'echo back', timeoutMs: 5000 })).resolves.toMatchObject({
          stdout: 'back\n',
        });
      });

      it('says GuestExecFailed, with qm’s words, for a VM the node does not have', async () => {
        const error = await new QgaGuest(sshPool, 999, node)
          .run({ label: 'nowhere', script: 'true', timeoutMs: 5000 })
          .catch((e) => e);
        expect(error).toBeInstanceOf(GuestExecFailed);
        expect(error.message).toMatch(/999\.conf' does not exist/);
      });

      it('runs qm on the node for the scan', async () => {
        await expect(nodeFor(node).qm(['status', '105'])).resolves.toEqual({
          exitCode: 0,
          stdout: 'status: running\n',
          stderr: '',
        });
        const unknown = await nodeFor(node).qm(['status', '999']);
        expect(unknown.exitCode).not.toBe(0);
        expect(unknown.stderr).toMatch(/999\.conf' does not exist/);
      });
    });
  });
