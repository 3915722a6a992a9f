import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { InventorySchema, type Inventory, type SshEndpoint } from '../../src/inventory';
import type { Lab } from '../support/lab';

export function inventoryOf(lab: Lab): Inventory {
  return InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
}

export const marker = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;

/** pids of the processes on this machine that hold an established TCP connection on local port `port` */
function socketHolders(filter: string): number[] {
  const ss = spawnSync('ss', ['-tnpH', 'state', 'established', filter], { encoding: 'utf8' });
  return [...new Set([...ss.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
}

/**
 * Kills the node's sshd processes serving every connection to it (the node shares the host's network, so its
 * sshd shows up in the host's `ss`): the way a dropped connection looks from the client.
 */
export function killNodeSessions(lab: Lab): number {
  const pids = socketHolders(`( sport = :${lab.nodes[0].sshPort} )`);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids.length;
}

/** Local ports of this process's connections to the node: one per pooled SSH connection. */
export function clientPortsToNode(lab: Lab): number[] {
  const ss = spawnSync('ss', ['-tnpH', 'state', 'established', `( dport = :${lab.nodes[0].sshPort} )`], {
    encoding: 'utf8',
  });
  return ss.stdout
    .split('\n')
    .filter((line) => line.includes(`pid=${process.pid},`))
    .map((line) => Number(/127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+/.exec(line)?.[1]))
    .filter((port) => port > 0);
}

/**
 * A TCP forwarder to an endpoint that the test can cut: stands in for a network that fails in the middle of a
 * run. `endpoint` is the same SSH server (and host key) through the forwarder.
 */
export async function cuttableRoute(target: SshEndpoint): Promise<{ endpoint: SshEndpoint; cut: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: { ...target, host: '127.0.0.1', port },
    cut: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `printf '%s\0' "$@" | base64`: what the guest received as $1…, byte for byte */
export const ECHO_ARGS_SCRIPT = `printf '%s' "$0" | base64 -w0; echo; printf '%s\\0' "$@" | base64 -w0; echo`;

export function encodedArgs(args: readonly string[]): string {
  return Buffer.from(args.map((a) => `${a}\0`).join(''), 'utf8').toString('base64');
}

/** Values that would do something if any shell on the way spliced them instead of passing them as words. */
export const HOSTILE_VALUES: readonly string[] = [
  "it's",
  'say "hi"',
  'a; touch /tmp/pwned',
  '$(touch /tmp/pwned)',
  '`touch /tmp/pwned`',
  'line one\nline two\n',
  '*',
  '/tmp/*',
  '',
  '  spaced  ',
  '--',
  '--synchronous 1',
  '-x',
  'back\\slash',
  "'; touch /tmp/pwned; echo '",
  '"; touch /tmp/pwned; echo "',
  '$HOME ${PATH} $1',
  '用户 文件',
  '| touch /tmp/pwned &',
];

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
