import type { SpawnSyncReturns } from 'node:child_process';
import { guestExec } from '../../lab/lab';
import { soleNode, type SshEndpoint } from '../../src/inventory';
import {
  GuestCommandTimeout,
  HostKeyMismatch,
  RemoteUnavailable,
  SshGuest,
  guestFor,
  type GuestProgress,
  sshPool,
} from '../../src/remote';
import { nodeSsh, type Lab } from '../support/lab';
import {
  ECHO_ARGS_SCRIPT,
  HOSTILE_VALUES,
  cuttableRoute,
  encodedArgs,
  inventoryOf,
  marker,
  waitUntil,
} from './support';

/**
 * SshGuest: the qm model (start detached, poll, kill the tree) straight over SSH, seed 004's machines.
 *
 * Everything runs against a lab guest with its own sshd (`directSsh`, reached through the lab's loopback
 * forward, its own host key pinned); the basics also against the lab node's sshd, a machine of another shape
 * (host pid namespace, no tini).
 */

let lab: Lab;

interface Machine {
  endpoint: SshEndpoint;
  vmid?: number;
  /** runs a script on the machine itself, outside the code under test */
  sh: (script: string, ...args: string[]) => SpawnSyncReturns<string>;
}

function behaviours(name: string, machine: () => Machine, everything: boolean) {
  describe(name, () => {
    let guest: SshGuest;
    let m: Machine;
    beforeAll(() => {
      m = machine();
      guest = new SshGuest(sshPool, m.endpoint, m.vmid, { killGraceMs: 1000 });
    });
    const processesWith = (text: string) =>
      m
        .sh(
          'for p in /proc/[0-9]*; do tr "\\0" " " <$p/cmdline 2>/dev/null; echo; done | grep -F -- "$1" || true',
          text,
        )
        .stdout.split('\n')
        .filter((line) => line && !line.includes('grep -F') && !line.includes('/proc/[0-9]*'));
    const leftovers = (label: string) => m.sh('ls -d /run/openclaw-migrate/"$1"-* 2>/dev/null || true', label).stdout;

    it('returns output, exit code and stdin, and leaves no files behind', async () => {
      const label = marker('hello');
      const stdin = 'some config\n用户 文件\n';
      const result = await guest.run({
        label,
        script: 'echo "$0 $1"; tee /dev/stderr | wc -c; exit 5',
        args: ['ü€'],
        stdin,
        timeoutMs: 10_000,
      });
      expect(result).toEqual({ exitCode: 5, stdout: `${label} ü€\n${Buffer.byteLength(stdin)}\n`, stderr: stdin });
      expect(leftovers(label)).toBe('');
    });

    it('passes hostile values byte for byte as $1…, and runs nothing of them', async () => {
      const result = await guest.run({
        label: 'hostile',
        script: ECHO_ARGS_SCRIPT,
        args: HOSTILE_VALUES,
        timeoutMs: 10_000,
      });
      const [zero, args] = result.stdout.split('\n');
      expect(Buffer.from(zero, 'base64').toString()).toBe('hostile');
      expect(args).toBe(encodedArgs(HOSTILE_VALUES));
      expect(m.sh('ls /tmp/pwned').status).not.toBe(0);
      expect(nodeSsh(lab, ['ls', '/tmp/pwned']).status).not.toBe(0);
    });

    if (!everything) return;

    it('polls a 3 s command, reporting progress, detached in its own session', async () => {
      const label = marker('slow');
      const progress: GuestProgress[] = [];
      let seen: string[] = [];
      let session = '';
      const result = await guest.run(
        { label, script: 'sleep 3; echo "done $1"', args: ['ok'], timeoutMs: 20_000 },
        {
          onProgress: (p) => {
            progress.push(p);
            if (progress.length !== 3) return;
            seen = processesWith(label);
            session = m.sh('ps -o sid= -p "$1"', String(p.pid)).stdout.trim();
          },
        },
      );
      expect(result).toEqual({ exitCode: 0, stdout: 'done ok\n', stderr: '' });
      expect(progress.length).toBeGreaterThanOrEqual(3);
      expect(new Set(progress.map((p) => p.pid)).size).toBe(1);
      expect(seen.some((line) => line.startsWith('/bin/bash -c sleep 3') && line.includes(label))).toBe(true);
      // the pid is the runner's, which leads its own session: the command outlives the channel that started it
      expect(session).toBe(String(progress[0].pid));
    });

    it('kills the whole tree at the timeout and reports the last output', async () => {
      const tag = marker('timeout');
      const error = await guest
        .run({
          label: 'will-time-out',
          script: `echo "partial output"; echo "trouble" >&2
              setsid bash -c 'trap "" TERM; while :; do sleep 1; done' "$1-own-session" &
              bash -c 'while :; do sleep 1; done' "$1-child" &
              sleep 60`,
          args: [tag],
          timeoutMs: 1500,
        })
        .catch((e) => e);
      expect(error).toBeInstanceOf(GuestCommandTimeout);
      expect(error).toMatchObject({ killed: true, stdout: 'partial output\n', stderr: 'trouble\n' });
      expect(processesWith(tag)).toEqual([]);
      expect(leftovers('will-time-out')).toBe('');
    });

    it('kills the command when aborted', async () => {
      const tag = marker('abort');
      const controller = new AbortController();
      const running = guest.run(
        { label: 'aborted', script: 'bash -c "while :; do sleep 1; done" "$1" & wait', args: [tag], timeoutMs: 60_000 },
        { signal: controller.signal, onProgress: (p) => p.elapsedMs > 800 && controller.abort(new Error('cancelled')) },
      );
      await expect(running).rejects.toThrow('cancelled');
      expect(processesWith(tag)).toEqual([]);
    });

    describe('resumePid', () => {
      const script = 'n=$(cat "$1" 2>/dev/null || echo 0); echo $((n + 1)) >"$1"; sleep "$2"; echo "runs: $(cat "$1")"';
      /** an earlier attempt whose network went away after the start: it fails, the command goes on */
      const earlierAttempt = async (counter: string, seconds: string) => {
        const route = await cuttableRoute(m.endpoint);
        const cutOff = new SshGuest(sshPool, route.endpoint, m.vmid, { statusRetries: 0 });
        let pid = 0;
        const error = await cutOff
          .run(
            { label: 'once', script, args: [counter, seconds], timeoutMs: 20_000 },
            { onProgress: (p) => ((pid = p.pid), void route.cut()) },
          )
          .catch((e) => e);
        expect(error).toBeInstanceOf(RemoteUnavailable);
        return pid;
      };
      const counterIn = (file: string) => m.sh('cat "$1"', file).stdout;

      it('waits for a command still running instead of starting a second copy', async () => {
        const counter = `/tmp/${marker('counter')}`;
        const pid = await earlierAttempt(counter, '2');
        expect(processesWith(counter).length).toBeGreaterThan(0);
        const progress: number[] = [];
        const result = await guest.run(
          { label: 'once', script, args: [counter, '2'], timeoutMs: 20_000 },
          { resumePid: pid, onProgress: (p) => progress.push(p.pid) },
        );
        expect(result).toEqual({ exitCode: 0, stdout: 'runs: 1\n', stderr: '' });
        expect(new Set(progress)).toEqual(new Set([pid]));
        expect(counterIn(counter)).toBe('1\n');
      });

      it('returns the unread result of one that finished meanwhile', async () => {
        const counter = `/tmp/${marker('counter')}`;
        const pid = await earlierAttempt(counter, '1');
        await waitUntil('the earlier command', () => processesWith(counter).length === 0);
        const result = await guest.run(
          { label: 'once', script, args: [counter, '1'], timeoutMs: 20_000 },
          { resumePid: pid },
        );
        expect(result.stdout).toBe('runs: 1\n');
        expect(counterIn(counter)).toBe('1\n');
        expect(leftovers('once')).toBe('');
      });

      it('starts afresh for a pid it does not know', async () => {
        const counter = `/tmp/${marker('counter')}`;
        const result = await guest.run(
          { label: 'once', script, args: [counter, '0'], timeoutMs: 20_000 },
          { resumePid: 99_999 },
        );
        expect(result.stdout).toBe('runs: 1\n');
      });
    });
  });
}

export const sshGuestSuite = (labOfFile: () => Lab) =>
  describe('SshGuest', () => {
    beforeAll(() => {
      lab = labOfFile();
    });
    afterAll(() => sshPool.close());

    behaviours(
      'any machine over ssh (the lab node’s sshd)',
      () => ({
        endpoint: soleNode(inventoryOf(lab)),
        sh: (script, ...args) => nodeSsh(lab, ['/bin/bash', '-c', script, 'test', ...args]),
      }),
      false,
    );

    behaviours(
      'a lab guest with its own sshd (inventory.vms[i].ssh)',
      () => {
        const vm = inventoryOf(lab).vms.find((v) => v.ssh);
        if (!vm?.ssh) throw new Error('the lab inventory has no vms[i].ssh');
        return {
          endpoint: vm.ssh,
          vmid: vm.vmid,
          sh: (script, ...args) => guestExec(lab, vm.vmid, ['/bin/bash', '-c', script, 'test', ...args]),
        };
      },
      true,
    );

    it('guestFor picks SshGuest for transport ssh, pinned to the VM’s own host key', async () => {
      const inventory = inventoryOf(lab);
      const vm = inventory.vms.find((v) => v.ssh)!;
      const guest = guestFor({ vmid: vm.vmid, transport: 'ssh', node: soleNode(inventory), vmSsh: vm.ssh });
      expect(guest).toBeInstanceOf(SshGuest);
      expect(guest.description).toBe(`vm ${vm.vmid} via ssh to root@127.0.0.1:${vm.ssh!.port}`);
      const wrongPin = guestFor({
        vmid: vm.vmid,
        transport: 'ssh',
        node: soleNode(inventory),
        vmSsh: { ...vm.ssh!, hostKeySha256: soleNode(inventory).hostKeySha256 },
      });
      const error = await wrongPin.run({ label: 'pinned', script: 'true', timeoutMs: 5000 }).catch((e) => e);
      expect(error).toBeInstanceOf(HostKeyMismatch);
      expect(error.seen).toBe(vm.ssh!.hostKeySha256);
    });
  });
