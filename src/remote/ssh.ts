/**
 * SSH through a pool (`SshPool`) of connections per endpoint: commands run as exec channels over a few long-lived
 * connections instead of a handshake each. The host key is pinned (SHA256 of the key blob, as `ssh-keygen -l -E
 * sha256` prints it); a connection that died is replaced on the next command; `close()` ends them all when the
 * worker shuts down.
 */
import { createHash } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { SshEndpoint } from '../inventory';
import { readRegularFile } from '../regular-file';
import { HostKeyMismatch, RemoteAuthFailed, RemoteUnavailable, formatMs } from './errors';

export { GuestExecFailed, GuestCommandTimeout, HostKeyMismatch, RemoteAuthFailed, RemoteUnavailable } from './errors';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Gives up on the command (closing its channel) and throws RemoteUnavailable after this long. */
  timeoutMs?: number;
  /** Aborting closes the channel and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface PoolSettings {
  /** exec channels open at once on one connection; OpenSSH's MaxSessions defaults to 10 */
  maxChannelsPerConnection: number;
  /** connections to one endpoint; commands beyond both limits wait for a free channel */
  maxConnectionsPerEndpoint: number;
  /** an unused connection is closed after this long */
  idleMs: number;
  /** the TCP connect plus SSH handshake and authentication must be done within this */
  readyTimeoutMs: number;
  /** SSH keepalives find a connection that died without a FIN: interval × count */
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

export const defaultPoolSettings: Readonly<PoolSettings> = {
  maxChannelsPerConnection: 8,
  maxConnectionsPerEndpoint: 4,
  idleMs: 60_000,
  readyTimeoutMs: 20_000,
  keepaliveIntervalMs: 10_000,
  keepaliveCountMax: 3,
};

/** `SHA256:<base64 without padding>` of a host key blob, as `ssh-keygen -l -E sha256` prints it. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type a host key blob names first (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …). */
function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown type';
  const length = keyBlob.readUInt32BE(0);
  return length > 0 && length < 64 && keyBlob.length >= 4 + length
    ? keyBlob.subarray(4, 4 + length).toString('latin1')
    : 'unknown type';
}

/** `user@host:port` */
export function describeEndpoint(endpoint: SshEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.user}@${host}:${endpoint.port}`;
}

const MAX_PRIVATE_KEY_BYTES = 64 << 10;

/** A private key file's contents: a regular file of a key's size (readRegularFile: a FIFO is refused at once). */
export async function readPrivateKey(path: string): Promise<Buffer> {
  return readRegularFile(path, MAX_PRIVATE_KEY_BYTES);
}

async function authConfig(endpoint: SshEndpoint): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
  if (endpoint.privateKeyPath) {
    try {
      return { privateKey: await readPrivateKey(endpoint.privateKeyPath) };
    } catch (err) {
      throw new RemoteAuthFailed(
        `cannot use the private key ${endpoint.privateKeyPath} for ${describeEndpoint(endpoint)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  if (process.env.SSH_AUTH_SOCK) return { agent: process.env.SSH_AUTH_SOCK };
  throw new RemoteAuthFailed(
    `no privateKeyPath for ${describeEndpoint(endpoint)} and no ssh agent (SSH_AUTH_SOCK is not set)`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Commands

/** The channel never opened, so the command never started: safe to try again on another connection. */
class ChannelNotOpened extends Error {
  constructor(
    readonly cause: Error & { reason?: unknown },
    /** the server refused one more session on this connection (MaxSessions) */
    readonly prohibited: boolean,
  ) {
    super(cause.message);
  }
}

function summarize(commandLine: string): string {
  const flat = commandLine.replace(/\s+/g, ' ');
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}

function runOnConnection(
  conn: Connection,
  target: string,
  commandLine: string,
  stdin: string | Buffer | undefined,
  options: ExecOptions,
): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    let channel: ClientChannel | undefined;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, result?: ExecResult) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(result!);
    };
    const onAbort = () => {
      channel?.close();
      finish(
        options.signal!.reason instanceof Error ? options.signal!.reason : new Error(String(options.signal!.reason)),
      );
    };
    if (options.signal) {
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener('abort', onAbort, { once: true });
    }
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        channel?.close();
        finish(
          new RemoteUnavailable(
            `no answer from ${target} within ${formatMs(options.timeoutMs!)} to: ${summarize(commandLine)}`,
          ),
        );
      }, options.timeoutMs);
    }

    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let exit: { code: number } | undefined;
    try {
      conn.client.exec(commandLine, (err, ch) => {
        if (err) {
          const e = err as Error & { reason?: unknown };
          // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: OpenSSH's answer past MaxSessions
          finish(new ChannelNotOpened(e, e.reason === 1));
          return;
        }
        if (done) {
          ch.close();
          return;
        }
        channel = ch;
        ch.on('data', (chunk: Buffer) => stdout.push(chunk));
        ch.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        ch.on('exit', (code: number | null, signalName?: string) => {
          const signum = signalName ? osConstants.signals[`SIG${signalName}` as NodeJS.Signals] : undefined;
          exit = { code: code ?? 128 + (signum ?? 0) };
        });
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (!exit) {
            finish(
              new RemoteUnavailable(
                `the connection to ${target} dropped before the command reported its exit status: ${summarize(commandLine)}`,
              ),
            );
            return;
          }
          finish(undefined, {
            exitCode: exit.code,
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
          });
        });
        if (stdin !== undefined) ch.end(stdin);
        else ch.end();
      });
    } catch (err) {
      finish(new ChannelNotOpened(err as Error, false)); // 'Not connected'
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// The pool

interface Connection {
  readonly key: string;
  readonly client: Client;
  /** resolves when authenticated; rejects with HostKeyMismatch, RemoteAuthFailed or RemoteUnavailable */
  ready: Promise<void>;
  active: number;
  capacity: number;
  closed: boolean;
  idleTimer?: NodeJS.Timeout;
  readonly closedPromise: Promise<void>;
}

function poolKey(endpoint: SshEndpoint): string {
  return JSON.stringify([endpoint.user, endpoint.host, endpoint.port, endpoint.privateKeyPath, endpoint.hostKeySha256]);
}

/**
 * Connections per endpoint, each with a few exec channels, under its own settings. The worker keeps one for the
 * process (src/remote/index.ts); a test makes its own.
 */
export class SshPool {
  readonly settings: Readonly<PoolSettings>;
  private readonly pools = new Map<string, Connection[]>();
  private readonly waiters = new Map<string, (() => void)[]>();

  constructor(settings: Partial<PoolSettings> = {}) {
    this.settings = { ...defaultPoolSettings, ...settings };
  }

  /**
   * Runs one command line (already quoted) on the endpoint's shell, with `stdin` then EOF on its standard input.
   * A non-zero exit code is a result, not an error. Throws HostKeyMismatch, RemoteAuthFailed, or RemoteUnavailable
   * (cannot connect, or the connection dropped before the exit status came: the command may have run).
   */
  async exec(
    endpoint: SshEndpoint,
    commandLine: string,
    stdin?: string | Buffer,
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    const target = describeEndpoint(endpoint);
    for (let attempt = 1; ; attempt++) {
      const conn = await this.acquire(endpoint, options.signal);
      try {
        return await runOnConnection(conn, target, commandLine, stdin, options);
      } catch (err) {
        if (!(err instanceof ChannelNotOpened)) throw err;
        // The command never started: another connection (or a smaller share of this one) is safe to try.
        if (err.prohibited) conn.capacity = Math.max(1, conn.active - 1);
        else this.retire(conn);
        if (attempt >= 3) {
          throw new RemoteUnavailable(`cannot open a channel to ${target}: ${err.cause.message}`, { cause: err.cause });
        }
      } finally {
        this.release(conn);
      }
    }
  }

  /** Ends every pooled connection (the worker's shutdown); commands still running on them fail. */
  async close(): Promise<void> {
    const all = [...this.pools.values()].flat();
    await Promise.all(
      all.map(async (conn) => {
        this.retire(conn);
        const slow = setTimeout(() => conn.client.destroy(), 2000);
        await conn.closedPromise;
        clearTimeout(slow);
      }),
    );
  }

  /** How many connections the pool holds, per `user@host:port`: for logs and tests. */
  stats(): Record<string, { connections: number; activeChannels: number }> {
    const stats: Record<string, { connections: number; activeChannels: number }> = {};
    for (const list of this.pools.values()) {
      for (const conn of list) {
        const [user, host, port] = JSON.parse(conn.key) as [string, string, number];
        const name = `${user}@${host}:${port}`;
        stats[name] ??= { connections: 0, activeChannels: 0 };
        stats[name].connections++;
        stats[name].activeChannels += conn.active;
      }
    }
    return stats;
  }

  private wakeOne(key: string): void {
    const queue = this.waiters.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiters.delete(key);
    next?.();
  }

  private wakeAll(key: string): void {
    const queue = this.waiters.get(key) ?? [];
    this.waiters.delete(key);
    for (const wake of queue) wake();
  }

  private removeConnection(conn: Connection): void {
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    const list = this.pools.get(conn.key);
    if (!list) return;
    const index = list.indexOf(conn);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.pools.delete(conn.key);
  }

  private openConnection(endpoint: SshEndpoint, key: string): Connection {
    const { settings } = this;
    const target = describeEndpoint(endpoint);
    const client = new Client();
    let seenKey: string | undefined;
    let seenType: string | undefined;
    let hostKeyRejected = false;
    let resolveClosed!: () => void;
    const conn: Connection = {
      key,
      client,
      ready: Promise.resolve(),
      active: 0,
      capacity: settings.maxChannelsPerConnection,
      closed: false,
      closedPromise: new Promise<void>((resolve) => (resolveClosed = resolve)),
    };
    const markClosed = () => {
      if (conn.closed) return;
      conn.closed = true;
      this.removeConnection(conn);
      this.wakeAll(key);
    };

    // The key is read before the handshake; a key that cannot be used fails this connection's waiters at once.
    conn.ready = authConfig(endpoint).then(
      (auth) =>
        new Promise<void>((resolve, reject) => {
          let settled = false;
          const fail = (err: Error) => {
            if (settled) return;
            settled = true;
            reject(err);
          };
          client.once('ready', () => {
            settled = true;
            resolve();
          });
          client.on('error', (err: Error & { level?: string }) => {
            if (hostKeyRejected)
              fail(new HostKeyMismatch(target, seenKey ?? '(none)', endpoint.hostKeySha256, seenType));
            else if (err.level === 'client-authentication')
              fail(new RemoteAuthFailed(`${target} refused the key offered: ${err.message}`, { cause: err }));
            else if (err.level === 'client-timeout')
              fail(
                new RemoteUnavailable(`no SSH handshake with ${target} within ${formatMs(settings.readyTimeoutMs)}`),
              );
            else fail(new RemoteUnavailable(`cannot reach ${target}: ${err.message}`, { cause: err }));
            markClosed();
          });
          client.on('close', () => {
            fail(new RemoteUnavailable(`${target} closed the connection before it was ready`));
            markClosed();
            resolveClosed();
          });
          try {
            client.connect({
              host: endpoint.host,
              port: endpoint.port,
              username: endpoint.user,
              ...auth,
              readyTimeout: settings.readyTimeoutMs,
              keepaliveInterval: settings.keepaliveIntervalMs,
              keepaliveCountMax: settings.keepaliveCountMax,
              hostVerifier: (keyBlob: Buffer) => {
                seenKey = hostKeyFingerprint(keyBlob);
                seenType = keyType(keyBlob);
                hostKeyRejected = seenKey !== endpoint.hostKeySha256;
                return !hostKeyRejected;
              },
            });
          } catch (err) {
            // ssh2 throws at once for a key it cannot parse (unknown format, or encrypted: no passphrases here)
            fail(new RemoteAuthFailed(`cannot use the key for ${target}: ${(err as Error).message}`, { cause: err }));
            markClosed();
            resolveClosed();
          }
        }),
      (err: unknown) => {
        markClosed();
        resolveClosed();
        throw err;
      },
    );
    conn.ready.catch(() => undefined); // the waiters see the error; an unread one is not a crash

    if (!conn.closed) {
      const list = this.pools.get(key) ?? [];
      list.push(conn);
      this.pools.set(key, list);
    }
    return conn;
  }

  /** A connection with a free channel: an open one, a new one, or the next one to free up. */
  private async acquire(endpoint: SshEndpoint, signal?: AbortSignal): Promise<Connection> {
    const key = poolKey(endpoint);
    for (;;) {
      signal?.throwIfAborted();
      const list = (this.pools.get(key) ?? []).filter((c) => !c.closed);
      let conn = list.find((c) => c.active < c.capacity);
      if (!conn && list.length < this.settings.maxConnectionsPerEndpoint) conn = this.openConnection(endpoint, key);
      if (conn) {
        conn.active++;
        if (conn.idleTimer) clearTimeout(conn.idleTimer);
        conn.idleTimer = undefined;
        try {
          await conn.ready;
        } catch (err) {
          this.release(conn);
          throw err;
        }
        if (!conn.closed) return conn;
        this.release(conn);
        continue;
      }
      await new Promise<void>((resolve) => {
        const queue = this.waiters.get(key) ?? [];
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const index = queue.indexOf(wake);
          if (index >= 0) queue.splice(index, 1);
          resolve(); // the loop's throwIfAborted throws
        };
        queue.push(wake);
        this.waiters.set(key, queue);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** Takes a connection out of the pool for good and ends it. */
  private retire(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.removeConnection(conn);
    conn.client.end();
    this.wakeAll(conn.key);
  }

  private release(conn: Connection): void {
    conn.active--;
    if (conn.closed) return;
    this.wakeOne(conn.key);
    if (conn.active === 0) {
      conn.idleTimer = setTimeout(() => {
        if (conn.active === 0) this.retire(conn);
      }, this.settings.idleMs);
      conn.idleTimer.unref();
    }
  }
}
