import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp, readLabState, type LabOptions } from '../../lab/lab';
import { withPidLock } from '../../lab/shared/pid-lock';
import { shellCommand } from '../../src/remote/shell-quote';

export type Lab = NonNullable<ReturnType<typeof readLabState>>;

/**
 * Held while a lab boots: the test files run two at a time, and booting guests (their Docker, their gateways getting
 * ready) keeps both cores busy, so one file's boot overlaps the other's migrations, never another boot. Gateways
 * booting side by side under a load of 20 and more fail their own startup lease and restart for minutes.
 */
const LAB_BOOT_LOCK = join(tmpdir(), 'openclaw-test-lab-boot.lock');

/**
 * For a file whose bounds are Proxmox's own and short (qm's 3 s guest-ping): no lab boots while it runs. Beside a
 * boot (a load of 20 and more) the real agent answers later than that, and qm rightly says it is not running.
 */
export function noLabBootsDuringThisFile(): void {
  let release: (() => void) | undefined;
  let held: Promise<void> | undefined;
  let fileOver = false;
  // a file that gave up waiting must not take the lock later and keep it for the rest of its worker's files
  const waiting = () => {
    if (fileOver) throw new Error('the file ended before no lab was booting');
  };
  beforeAll(
    () =>
      new Promise<void>((acquired, failed) => {
        held = withPidLock(LAB_BOOT_LOCK, { pollMs: 500, waiting }, () => {
          acquired();
          return new Promise<void>((done) => (release = done));
        });
        held.catch(failed);
      }),
    900_000,
  );
  afterAll(async () => {
    fileOver = true;
    release?.();
    await held?.catch(() => undefined);
  });
}

/** A lab of its own for one test file, in a fresh directory; small data unless the test asks for more. */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-'));
  return withPidLock(LAB_BOOT_LOCK, { pollMs: 500 }, () =>
    labUp({ guests: 1, workspaceFiles: 60, bigFileMiB: 2, ...options }, dir),
  );
}

export async function stopLab(lab: Lab | undefined): Promise<void> {
  if (!lab) return;
  await labDown(lab.labDir);
  rmSync(lab.labDir, { recursive: true, force: true });
}

/** Runs a remote command line with the plain OpenSSH client on a loopback port, pinning the lab's host keys. */
function ssh(lab: Lab, port: number, remoteCommand: string, input?: string): SpawnSyncReturns<string> {
  return spawnSync(
    'ssh',
    [
      '-i',
      lab.privateKeyPath,
      '-p',
      String(port),
      '-o',
      `UserKnownHostsFile=${lab.knownHostsPath}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      'root@127.0.0.1',
      remoteCommand,
    ],
    { encoding: 'utf8', input, timeout: 300_000 },
  );
}

/** Runs a command line on a node (the first by default), its words quoted for the remote shell. */
export function nodeSsh(lab: Lab, argv: string[], input?: string, node = lab.nodes[0].name): SpawnSyncReturns<string> {
  const port = lab.nodes.find((n) => n.name === node)?.sshPort;
  if (port === undefined) throw new Error(`lab: no node ${node}`);
  return ssh(lab, port, shellCommand(argv), input);
}

/** Runs a shell command line straight on a direct-SSH guest (seed 004's machines), no node in between. */
export function directSsh(lab: Lab, vmid: number, remoteCommand: string): SpawnSyncReturns<string> {
  const guest = lab.guests.find((g) => g.vmid === vmid);
  if (!guest?.directSsh) throw new Error(`lab: guest ${vmid} is not reached over ssh directly`);
  return ssh(lab, guest.directSsh.port, remoteCommand);
}

export interface QgaResult {
  exitcode: number;
  'out-data'?: string;
  'err-data'?: string;
}

/**
 * Runs a script in a guest as the SOP does, `qm guest exec <vmid> -- /bin/bash -lc '<script>' …`, through the
 * node, with no limit on qm's wait; values go in as positional parameters.
 */
export function sopStep(lab: Lab, vmid: number, script: string, ...params: string[]): QgaResult {
  const ssh = nodeSsh(lab, [
    'qm',
    'guest',
    'exec',
    String(vmid),
    '--timeout',
    '0',
    '--',
    '/bin/bash',
    '-lc',
    script,
    'sop',
    ...params,
  ]);
  if (ssh.status !== 0) throw new Error(`qm guest exec failed (${ssh.status}): ${ssh.stderr}`);
  return JSON.parse(ssh.stdout) as QgaResult;
}

/**
 * One lab for a whole test file: booted before its first test, taken down after its last. The file's suites get it
 * from the returned function once their own beforeAll runs.
 */
export function labForFile(options: LabOptions): () => Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await startLab(options);
  }, 900_000);
  afterAll(() => stopLab(lab));
  return () => {
    if (!lab) throw new Error('the lab of this file did not come up');
    return lab;
  };
}
