import { execFileSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { z } from 'zod';
import { InventorySchema, type Inventory } from '../src/inventory';
import { DEFAULT_LEDGER_PATH } from '../src/migration/node-lock';
import { prepareGuestImage, type GuestImage } from './guest-image';
import {
  bootContainer,
  bridgeIntoMachine,
  containerInit,
  enterMachine,
  forkedChild,
  removeMachineCgroup,
  startDetached,
  waitForBoot,
  type Container,
} from './machine';
import { MODEL_PORT_IN_GUEST, readModelLog, type ModelRequest } from './model-stub';
import {
  DEFAULT_DOCKER_ERA_RELEASE,
  DOCKER_ERA_RELEASES,
  OPENCLAW_VERSION,
  prepareOpenClawCache,
  type OpenClawRelease,
} from './openclaw-cache';
import { GUEST_REGISTRY_PORT, prepareRegistry, startLabRegistry, type RegistryCache } from './registry';
import { GUEST_QGA_DIR, seedGuestData, seedGuestMachine, seedGuestSystem, toolWrapper } from './seed';
import { QM_PVE_FILE } from './node/qm';
import { connects, freePort } from './shared/net';
import { waitFor } from './shared/wait';

export const faultKinds = [
  'agent-down', // the guest agent is not running: qm guest cmd ping fails
  'install-hang', // the installer waits for input whatever its flags (the record's hung install.sh)
  'disk-full', // the guest's disk fills up once a backup directory appears
  'backup-corrupt', // a backup tarball is damaged after it was written
  'ssh-drop', // the node's sshd drops the connection in the middle of a command
  'port-taken', // something already listens on 127.0.0.1:28789
  'unit-fails', // the gateway unit's ExecStart fails
  'gateway-500', // the direct-install gateway answers 500
  'restart-always', // at up: the compose file says restart: always
  'dockerd-restart', // at run time: dockerd restarts (systemctl restart docker)
  'guest-reboot', // at run time: the guest reboots (systemctl reboot); its disk stays
  'agent-restart', // at run time: the agent's service restarts, killing its running exec children
] as const;
export type FaultKind = (typeof faultKinds)[number];

const FAULT_ONLY_AT: Partial<Record<FaultKind, 'up' | 'run time'>> = {
  'restart-always': 'up', // it is how the guest was set up
  'dockerd-restart': 'run time', // it strikes between two phases
  'guest-reboot': 'run time',
  'agent-restart': 'run time', // it strikes while a command runs
};

function checkPlayable(fault: { kind: FaultKind }, when: 'up' | 'run time'): void {
  const only = FAULT_ONLY_AT[fault.kind];
  if (only && only !== when) throw new Error(`lab: fault ${fault.kind} is given at ${only} only`);
}

export const FaultSchema = z
  .string()
  .regex(/^\d+:[a-z0-9-]+$/, 'a fault is vmid:kind, e.g. 106:agent-down')
  .transform((text) => {
    const [vmid, kind] = text.split(':');
    return { vmid: Number(vmid), kind };
  })
  .pipe(z.object({ vmid: z.number().int().positive(), kind: z.enum(faultKinds) }));
export type Fault = z.output<typeof FaultSchema>;

export const LabOptionsSchema = z.object({
  guests: z.number().int().min(1).max(500).default(3),
  firstVmid: z.number().int().min(100).default(105),
  faults: z.array(FaultSchema.or(z.object({ vmid: z.number().int(), kind: z.enum(faultKinds) }))).default([]),
  /** vmids that also run their own sshd, reached without the node (seed 004's machines) */
  directSsh: z.array(z.number().int()).default([]),
  workspaceFiles: z.number().int().min(5).default(300),
  bigFileMiB: z.number().int().min(0).default(24),
  diskSize: z
    .string()
    .regex(/^\d+[kmg]$/, 'a size like 2g or 512m')
    .default('2g'),
  /** the Proxmox VE whose wording the node's qm speaks: 8, or 9 (9.1, qemu-server 9.0.26 and later) */
  pve: z.enum(['8', '9']).default('9'),
  /**
   * how the installer stand-in installs OpenClaw: `prefix` unpacks the prepared prefix (seconds), `registry` installs
   * as the real installer does, Node 24 then `npm install -g openclaw@<version>` through the lab's registry
   */
  install: z.enum(['prefix', 'registry']).default('prefix'),
  /** the Docker-era release of the guests not named in `dockerEraOf` */
  dockerEra: z.enum(DOCKER_ERA_RELEASES).default(DEFAULT_DOCKER_ERA_RELEASE),
  /** a guest's own Docker-era release, by vmid (one fleet can mix them) */
  dockerEraOf: z.record(z.string().regex(/^\d+$/), z.enum(DOCKER_ERA_RELEASES)).default({}),
  /** how many Proxmox nodes, each its own sshd, host key, qm, NAT rules and ledger; guest i is on node i mod N */
  nodes: z.number().int().min(1).max(9).default(1),
  /** VMs their node has a config for that do not run (`qm list`: stopped): never booted */
  stopped: z.array(z.number().int()).default([]),
  /** guests that run no OpenClaw: the image's Debian, systemd, Docker and qemu-ga, nothing of a customer's */
  notOpenClaw: z.array(z.number().int()).default([]),
});
export type LabOptions = z.input<typeof LabOptionsSchema>;

const PANEL_RELEASE = { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' };
/** The release endpoint's port inside each guest's network namespace (bridged to the lab's server). */
const RELEASE_PORT_IN_GUEST = 8099;

interface GuestState {
  vmid: number;
  name: string;
  ip: string;
  /** the name of the node whose qm has it */
  node: string;
  /** host pid of the guest's first boot's PID 1, its systemd (guestInit follows reboots) */
  initPid: number;
  /** the guest's systemd-nspawn container, and the bridges that serve it the release endpoint and the registry */
  booted: { container: Container; releaseBridgePid: number; registryBridgePid: number; modelBridgePid: number };
  /** the Docker-era release its gateway runs; none on a guest that runs no OpenClaw */
  dockerEra?: OpenClawRelease;
  /** seed 004's machines: a host loopback port forwarded to the guest's own sshd, with the guest's host key */
  directSsh?: { port: number; forwarderPid: number; hostKeySha256: string };
}

/** A Proxmox node stand-in: its machine's pid, its sshd's loopback port and host key. */
interface LabNode {
  name: string;
  pid: number;
  sshPort: number;
  hostKeySha256: string;
}

interface LabState {
  labDir: string;
  /** one node, or with `nodes: N` N of them */
  nodes: LabNode[];
  releaseServerPid: number;
  /** the lab's Verdaccio, offline, on <lab dir>/run/registry.sock */
  registryPid: number;
  /** the model endpoint (lab/model-stub.ts), one socket and one request log a guest */
  modelStubPid: number;
  /** the booted guests */
  guests: GuestState[];
  /** the VMs the nodes have that do not run */
  stopped: GuestName[];
  inventoryPath: string;
  /** the operator's key for the node (and direct-SSH guests), and a known_hosts file pinning the node */
  privateKeyPath: string;
  knownHostsPath: string;
  panelRelease: { repo: string; tag: string; baseUrl: string };
  /** the lab's stand-in for the official installer, run inside a guest */
  installCommand: string;
  options: z.output<typeof LabOptionsSchema>;
}

export function labDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPENCLAW_LAB_DIR) return resolve(env.OPENCLAW_LAB_DIR);
  const state =
    env.OPENCLAW_MIGRATE_STATE ?? join(env.XDG_STATE_HOME ?? join(homedir(), '.local/state'), 'openclaw-migrate');
  return join(state, 'lab');
}

const repoRoot = resolve(__dirname, '..');
const faultDir = (dir: string, vmid: number) => join(dir, 'run/faults', String(vmid));
const stateFile = (dir: string) => join(dir, 'lab.json');

/** A process that runs: a zombie (killed, its parent not yet told) counts as gone. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

export function readLabState(dir = labDir()): LabState | undefined {
  return existsSync(stateFile(dir)) ? (JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LabState) : undefined;
}

async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  pollMs = 100,
): Promise<void> {
  await waitFor(check, {
    timeoutMs,
    pollMs,
    timeoutMessage: `lab: ${what} did not come up within ${timeoutMs / 1000} s`,
  });
}

function agentAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    if (!existsSync(socketPath)) return resolveAnswer(false);
    const socket = connect(socketPath);
    socket.setTimeout(2000, () => resolveAnswer(socket.destroy() === undefined));
    socket.once('error', () => resolveAnswer(false));
    socket.once('data', (data) =>
      resolveAnswer(socket.destroy() !== undefined && data.toString().includes('"return"')),
    );
    socket.write('{"execute":"guest-ping"}\n');
  });
}

function sshKeygen(path: string, comment: string): void {
  if (!existsSync(path)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

function fingerprint(publicKeyPath: string): string {
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyPath], { encoding: 'utf8' }).split(' ')[1];
}

function nodeSshdConfig(port: number): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    'HostKey /etc/openclaw-lab/ssh_host_ed25519_key',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PidFile /run/sshd.pid',
    'MaxStartups 100',
    'MaxSessions 100',
    '',
  ].join('\n');
}

/** The lab's programs: each one entry file, bundled into `<tool>.js`. */
const TOOL_ENTRIES = {
  qm: 'lab/node/qm.ts',
  'release-server': 'lab/release-server.ts',
  'model-stub': 'lab/model-stub.ts',
} as const;
export type LabTool = keyof typeof TOOL_ENTRIES;

/** Bundles lab programs with esbuild, each into one CJS file `<outdir>/<tool>.js`. */
export async function bundleTools(outdir: string, tools: readonly LabTool[]): Promise<void> {
  await build({
    entryPoints: Object.fromEntries(tools.map((tool) => [tool, join(repoRoot, TOOL_ENTRIES[tool])])),
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
}

/** Bundles the lab's programs and gathers what the machines bind-mount at /run/openclaw-lab. */
async function prepareTools(dir: string, install: LabOptions['install'], registry: RegistryCache): Promise<void> {
  const tools = join(dir, 'tools');
  mkdirSync(tools, { recursive: true });
  await bundleTools(tools, ['qm', 'release-server', 'model-stub']);
  for (const script of ['fault-watcher.sh', 'guest/install-openclaw.sh']) {
    copyFileSync(join(repoRoot, 'lab', script), join(tools, script.replace('guest/', '')));
  }
  const linkOrCopy = (from: string, to: string) => {
    rmSync(to, { force: true });
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
  };
  linkOrCopy(process.execPath, join(tools, 'node'));
  const openclaw = await prepareOpenClawCache();
  linkOrCopy(openclaw.prefixTgz, join(tools, 'openclaw-prefix.tgz'));
  linkOrCopy(registry.nodeTgz, join(tools, 'openclaw-node.tgz'));
  // How the installer stand-in installs (lab/guest/install-openclaw.sh reads it): one key=value a line.
  writeFileSync(join(tools, 'install-openclaw.conf'), `method=${install}\nversion=${OPENCLAW_VERSION}\n`);
}

/** A guest's /var/lib/docker: room for the Docker-era images (≈1.6 GB for 2026.2.19) and their containers' layers. */
const GUEST_DOCKER_SIZE = '3g';
const modelSocket = (dir: string, vmid: number) => join(dir, 'run/model', `${vmid}.sock`);
const modelLog = (dir: string, vmid: number) => join(dir, 'run/model', `${vmid}.jsonl`);

/** Every request a guest's bots sent to the lab's model endpoint, oldest first. */
export function guestModelRequests(state: LabState, vmid: number): ModelRequest[] {
  return readModelLog(modelLog(state.labDir, vmid));
}

/**
 * When a Docker-era gateway has finished starting, as the VM's has long before a migration: its log line, and a
 * directory that must have been still for 5 s. 2026.9.6 says `ready`, after which its control-UI sidecar still fills
 * cache/control-ui-assets; 2026.2.19 says `listening on` and has no such sidecar.
 */
const GATEWAY_STARTED: Record<OpenClawRelease, { line: string; still: string }> = {
  '2026.2.19': { line: '\\[gateway\\] listening on', still: '/data/openclaw' },
  '2026.9.6': { line: '\\[gateway\\] ready', still: '/data/openclaw/cache/control-ui-assets' },
};

/**
 * Boots a guest (its seed already written) and brings its Docker-era OpenClaw up as the VM had it: its Docker starts
 * from the image's storage snapshot of its release (the images loaded once per machine, no containers), and the
 * compose project makes the containers. The release endpoint is bridged into its network namespace. A guest that
 * runs no OpenClaw starts with an empty Docker.
 */
async function startGuest(
  dir: string,
  guest: GuestName,
  image: GuestImage,
  options: z.output<typeof LabOptionsSchema>,
): Promise<GuestState['booted']> {
  const guestDir = join(dir, 'guests', String(guest.vmid));
  const container = await bootContainer({
    imageRoot: image.rootfs,
    machineDir: guestDir,
    hostname: guest.name,
    diskSize: options.diskSize,
    dockerSize: GUEST_DOCKER_SIZE,
    dockerSnapshot: guest.dockerEra && image.dockerSnapshot[guest.dockerEra],
    binds: [
      { host: join(dir, 'tools'), guest: '/run/openclaw-lab', readOnly: true },
      { host: faultDir(dir, guest.vmid), guest: '/run/openclaw-lab-faults', readOnly: true },
      { host: join(dir, 'run/qemu-server'), guest: GUEST_QGA_DIR },
    ],
  });
  // on every address of the guest: the gateway's container reaches it at the Docker host's address (extra_hosts), the
  // direct install after a migration at the guest's LAN address (its /etc/hosts, lab/seed.ts)
  const modelBridgePid = bridgeIntoMachine(container, MODEL_PORT_IN_GUEST, modelSocket(dir, guest.vmid), '0.0.0.0');
  const releaseBridgePid = bridgeIntoMachine(container, RELEASE_PORT_IN_GUEST, join(dir, 'run/release.sock'));
  const registryBridgePid = bridgeIntoMachine(container, GUEST_REGISTRY_PORT, join(dir, 'run/registry.sock'));
  if (guest.dockerEra) await startDockerEra(container, guest.vmid, guest.dockerEra);
  const faults = options.faults.filter((fault) => fault.vmid === guest.vmid).map((fault) => fault.kind);
  if (faults.includes('agent-down')) enterMachine(container.initPid, ['systemctl', 'stop', 'qemu-guest-agent']);
  if (faults.length > 0) startFaultWatcher(container.initPid);
  return { container, releaseBridgePid, registryBridgePid, modelBridgePid };
}

/** The guest's Docker-era OpenClaw, made by its compose project, once it has finished starting. */
async function startDockerEra(container: Container, vmid: number, release: OpenClawRelease): Promise<void> {
  const dockerEraUp = enterMachine(container.initPid, [
    '/bin/bash',
    '-c',
    'set -euo pipefail; cd /opt/openclaw; docker compose up -d --quiet-pull',
    'lab-up',
  ]);
  if (dockerEraUp.status !== 0)
    throw new Error(`lab: guest ${vmid}'s Docker-era OpenClaw did not come up:\n${dockerEraUp.stderr}`);
  // A VM that runs OpenClaw has long finished starting it. The gateway takes seconds to get ready, writes its
  // caches under /data/openclaw meanwhile and dies of SIGKILL if stopped before; after `ready` its control-UI
  // sidecar still fills cache/control-ui-assets. So the lab returns once it said `ready`, both containers answer
  // and that cache has been still for 5 s, as on the customer's VM before a migration.
  await waitUntil(
    `guest ${vmid}'s Docker-era gateway and panel`,
    () =>
      enterMachine(container.initPid, [
        '/bin/bash',
        '-c',
        // the compose sets TERM=xterm-256color, so the gateway colours its log: codes stripped before matching
        `docker logs openclaw-gateway 2>&1 | sed 's/\\x1b\\[[0-9;]*m//g' | grep -q "$4" &&
          curl -fsS --max-time 5 -o /dev/null "$1" && curl -fsS --max-time 5 -o /dev/null "$2" &&
          [ -d "$3" ] && [ -z "$(find "$3" -newermt '5 seconds ago' -print -quit)" ]`,
        'lab-up',
        'http://127.0.0.1:28789/health',
        'http://127.0.0.1:28080/api/health',
        GATEWAY_STARTED[release].still,
        GATEWAY_STARTED[release].line,
      ]).status === 0,
    600_000, // a loaded machine's gateway takes minutes
    // each check forks docker, curl and a shell in the guest while its gateway starts on the same cores: at 100 ms,
    // ~290 checks per guest, ~5 CPU-s in the docker client alone
    1000,
  );
}

/** Brings the lab up: the node, its guests, the release endpoint; writes the inventory. Safe to call twice. */
export async function labUp(input: LabOptions = {}, dir = labDir()): Promise<LabState> {
  const options = LabOptionsSchema.parse(input);
  const existing = readLabState(dir);
  if (existing) {
    if (labHealthy(existing)) {
      if (JSON.stringify(existing.options) === JSON.stringify(options)) return existing;
      throw new Error(`a lab with other options is up in ${dir}: run 'lab down' first`);
    }
    await labDown(dir);
  }
  const vmids = Array.from({ length: options.guests }, (_, i) => options.firstVmid + i);
  for (const fault of options.faults) {
    if (!vmids.includes(fault.vmid) || options.stopped.includes(fault.vmid))
      throw new Error(`lab: fault ${fault.vmid}:${fault.kind} names no running guest of this lab`);
  }
  for (const [key, named] of [
    ['stopped', options.stopped],
    ['notOpenClaw', options.notOpenClaw],
  ] as const) {
    const unknown = named.filter((vmid) => !vmids.includes(vmid));
    if (unknown.length > 0) throw new Error(`lab: ${key} names no guest of this lab: ${unknown.join(', ')}`);
  }
  for (const fault of options.faults) checkPlayable(fault, 'up');
  try {
    return await bringUp(options, dir, vmids);
  } catch (err) {
    await labDown(dir); // a half-made lab holds gigabytes of guests: leave nothing of it behind
    throw err;
  }
}

type Options = z.output<typeof LabOptionsSchema>;
/** A guest before its boot: what its node's configs and its seed name it by, and its Docker-era release. */
type GuestName = Pick<GuestState, 'vmid' | 'name' | 'ip' | 'node' | 'dockerEra'>;

/** The nodes' names: one node is `pve-lab`, several `pve-lab-1`, `pve-lab-2`, … */
const nodeNames = (count: number) =>
  count === 1 ? ['pve-lab'] : Array.from({ length: count }, (_, i) => `pve-lab-${i + 1}`);
const nodeDir = (dir: string, name: string) => join(dir, 'nodes', name);
const nodeHostKey = (keys: string, name: string) => join(keys, `${name}_host`);

async function bringUp(options: Options, dir: string, vmids: number[]): Promise<LabState> {
  const { registry, image } = await prepareCaches(dir, options);
  const names = nodeNames(options.nodes);
  const keys = makeKeys(dir, names);
  const operatorPublicKey = readFileSync(join(keys, 'operator.pub'), 'utf8');
  const releaseServerPid = startReleaseServer(dir);
  const registryPid = await startLabRegistry(registry, dir, join(dir, 'run/registry.sock'));

  const vms: GuestName[] = vmids.map((vmid, i) => ({
    vmid,
    name: `vm-lab-${String(i + 1).padStart(4, '0')}`,
    ip: `10.10.10.${14 + i}`,
    node: names[i % names.length],
    ...(!options.notOpenClaw.includes(vmid) && {
      dockerEra: options.dockerEraOf[String(vmid)] ?? options.dockerEra,
    }),
  }));
  const guests = vms.filter((vm) => !options.stopped.includes(vm.vmid));
  const modelStubPid = startDetached(
    join(dir, 'tools/node'),
    [
      join(dir, 'tools/model-stub.js'),
      ...guests.flatMap((guest) => ['--socket', modelSocket(dir, guest.vmid), '--log', modelLog(dir, guest.vmid)]),
    ],
    {},
    join(dir, 'model-stub.log'),
  );
  await waitUntil('the model endpoint', () => guests.every((guest) => existsSync(modelSocket(dir, guest.vmid))));
  const sshPorts = await Promise.all(names.map(() => freePort()));
  names.forEach((name, i) =>
    seedNode(
      nodeDir(dir, name),
      name,
      options,
      keys,
      operatorPublicKey,
      sshPorts[i],
      vms.filter((vm) => vm.node === name),
    ),
  );
  for (const guest of guests) seedGuest(dir, options, image, keys, operatorPublicKey, guest);
  const bootedGuests: GuestState[] = await Promise.all(
    guests.map(async (guest) => {
      const booted = await startGuest(dir, guest, image, options);
      return { ...guest, initPid: booted.container.initPid, booted };
    }),
  );
  for (const guest of bootedGuests) await exposeGuest(dir, options, keys, guest);
  const nodes = names.map((name, i) => ({
    name,
    pid: startNode(dir, nodeDir(dir, name)),
    sshPort: sshPorts[i],
    hostKeySha256: fingerprint(`${nodeHostKey(keys, name)}.pub`),
  }));

  const state: LabState = {
    labDir: dir,
    nodes,
    releaseServerPid,
    registryPid,
    modelStubPid,
    guests: bootedGuests,
    stopped: vms.filter((vm) => options.stopped.includes(vm.vmid)),
    inventoryPath: join(dir, 'inventory.json'),
    privateKeyPath: join(keys, 'operator'),
    knownHostsPath: join(keys, 'known_hosts'),
    panelRelease: { ...PANEL_RELEASE, baseUrl: `http://127.0.0.1:${RELEASE_PORT_IN_GUEST}` },
    installCommand: 'bash /run/openclaw-lab/install-openclaw.sh --no-prompt --no-onboard --no-gum',
    options,
  };
  writeKnownHosts(state, keys);
  writeFileSync(stateFile(dir), JSON.stringify(state, null, 2) + '\n');
  await waitForLab(state);
  writeFileSync(state.inventoryPath, JSON.stringify(labInventory(state), null, 2) + '\n');
  return state;
}

/** The caches a lab is made from (the registry, the tools, the guest image), built on first use. */
async function prepareCaches(dir: string, options: Options): Promise<{ registry: RegistryCache; image: GuestImage }> {
  mkdirSync(join(dir, 'run/qemu-server'), { recursive: true });
  const registry = await prepareRegistry();
  await prepareTools(dir, options.install, registry);
  return { registry, image: await prepareGuestImage() };
}

/** The operator's key and each node's host key; returns their directory. */
function makeKeys(dir: string, nodes: string[]): string {
  const keys = join(dir, 'keys');
  mkdirSync(keys, { recursive: true });
  sshKeygen(join(keys, 'operator'), 'openclaw-migrate-lab-operator');
  for (const name of nodes) sshKeygen(nodeHostKey(keys, name), name);
  return keys;
}

/** The panel's release endpoint, on <lab dir>/run/release.sock. Returns its pid. */
function startReleaseServer(dir: string): number {
  return startDetached(
    join(dir, 'tools/node'),
    [
      join(dir, 'tools/release-server.js'),
      '--socket',
      join(dir, 'run/release.sock'),
      '--release',
      `${PANEL_RELEASE.repo}@${PANEL_RELEASE.tag}`,
      '--app-dir',
      join(repoRoot, 'lab/panel-app'),
    ],
    {},
    join(dir, 'release-server.log'),
  );
}

function putFile(root: string, path: string, content: string, mode = 0o644): void {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, content, { mode });
}

/** A node's seed: a real sshd on loopback, qm on PATH, its VMs' configs, its NAT rules and bot ledger. */
function seedNode(
  nodeDir: string,
  name: string,
  options: Options,
  keys: string,
  operatorPublicKey: string,
  sshPort: number,
  guests: GuestName[],
): void {
  const nodeSeed = join(nodeDir, 'seed');
  rmSync(nodeSeed, { recursive: true, force: true });
  putFile(nodeSeed, 'etc/openclaw-lab/sshd_config', nodeSshdConfig(sshPort));
  putFile(nodeSeed, 'etc/openclaw-lab/ssh_host_ed25519_key', readFileSync(nodeHostKey(keys, name), 'utf8'), 0o600);
  putFile(nodeSeed, 'root/.ssh/authorized_keys', operatorPublicKey, 0o600);
  putFile(nodeSeed, 'usr/sbin/qm', toolWrapper('qm'), 0o755);
  putFile(nodeSeed, QM_PVE_FILE, `${options.pve}\n`);
  putFile(nodeSeed, 'etc/hostname', `${name}\n`);
  putFile(nodeSeed, 'usr/sbin/iptables', readFileSync(join(repoRoot, 'lab/node/iptables.sh'), 'utf8'), 0o755);
  // The node's shared resources (SOP §2.3): a 50-port block per VM mapped by NAT, and the bot ledger.
  putFile(
    nodeSeed,
    'etc/openclaw-lab/iptables-nat.rules',
    guests
      .flatMap((guest, i) =>
        [22, 18080, 18789].map(
          (port, offset) =>
            `-A PREROUTING -p tcp -m tcp --dport ${10200 + 50 * i + offset} -j DNAT --to-destination ${guest.ip}:${port}\n`,
        ),
      )
      .join(''),
  );
  putFile(
    nodeSeed,
    DEFAULT_LEDGER_PATH.slice(1),
    ['vmid\tip\tport_block\tssh_port\tpanel_port\tgateway_port\tmode\tupdated_at\tnote\n']
      .concat(
        guests.map(
          (guest, i) =>
            [
              guest.vmid,
              guest.ip,
              10200 + 50 * i,
              10200 + 50 * i,
              10201 + 50 * i,
              10202 + 50 * i,
              'docker',
              '',
              'lab seed',
            ].join('\t') + '\n',
        ),
      )
      .join(''),
  );
  for (const guest of guests) {
    putFile(
      nodeSeed,
      `etc/pve/qemu-server/${guest.vmid}.conf`,
      [
        'agent: 1',
        'boot: order=scsi0',
        'cores: 2',
        'memory: 4096',
        `name: ${guest.name}`,
        `net0: virtio=BC:24:11:00:00:${(guest.vmid % 256).toString(16).padStart(2, '0').toUpperCase()},bridge=vmbr1`,
        'ostype: l26',
        'scsi0: local-lvm:vm-' + guest.vmid + '-disk-0,size=40G',
        '',
      ].join('\n'),
    );
  }
}

/**
 * A guest's seed: its faults, its machine, its Docker-era data and system (of its release) if it runs OpenClaw, and for
 * direct SSH its host key and the operator's.
 */
function seedGuest(
  dir: string,
  options: Options,
  image: GuestImage,
  keys: string,
  operatorPublicKey: string,
  guest: GuestName,
): void {
  const guestDir = join(dir, 'guests', String(guest.vmid));
  const seed = join(guestDir, 'seed');
  // Faults live in the shared run directory: the guest sees its own at /run/openclaw-lab-faults, the node
  // (whose qm plays ssh-drop) sees them all at /run/openclaw-lab-run/faults.
  const faultsDir = faultDir(dir, guest.vmid);
  rmSync(guestDir, { recursive: true, force: true });
  mkdirSync(faultsDir, { recursive: true });
  for (const fault of options.faults.filter((f) => f.vmid === guest.vmid))
    writeFileSync(join(faultsDir, fault.kind), '');
  seedGuestMachine(seed, guest);
  if (guest.dockerEra) {
    const guestSeed = {
      vmid: guest.vmid,
      webLoginPassword: randomBytes(9).toString('base64url'),
      gatewayToken: randomBytes(24).toString('hex'),
      panelGithubToken: `ghp_${randomBytes(18).toString('hex')}`,
      release: guest.dockerEra,
      stateTgz: image.stateTgz[guest.dockerEra],
    };
    seedGuestData(seed, guestSeed, options);
    const restartAlways = options.faults.some((f) => f.vmid === guest.vmid && f.kind === 'restart-always');
    seedGuestSystem(seed, restartAlways ? 'always' : 'unless-stopped', guestSeed);
  }
  const directSsh = options.directSsh.includes(guest.vmid);
  const guestHostKey = join(keys, `guest-${guest.vmid}_host`);
  if (directSsh) {
    sshKeygen(guestHostKey, `lab-guest-${guest.vmid}`);
    putFile(seed, 'etc/ssh/ssh_host_ed25519_key', readFileSync(guestHostKey, 'utf8'), 0o600);
    const authorized = join(seed, 'root/.ssh/authorized_keys');
    putFile(
      seed,
      'root/.ssh/authorized_keys',
      (existsSync(authorized) ? readFileSync(authorized, 'utf8') : '') + operatorPublicKey,
      0o600,
    );
  }
}

/** A booted guest made reachable: its pid for the node's qm, and for direct SSH a loopback port forwarded to it. */
async function exposeGuest(dir: string, options: Options, keys: string, guest: GuestState): Promise<void> {
  const guestDir = join(dir, 'guests', String(guest.vmid));
  writeFileSync(join(dir, 'run/qemu-server', `${guest.vmid}.pid`), `${machinePid(guest)}\n`);
  if (options.directSsh.includes(guest.vmid)) {
    // Like the node's NAT rule `10200 -> VM:22` in the record: a loopback port on the host reaches the guest.
    const port = await freePort();
    const forwarderPid = startDetached(
      'socat',
      [
        `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`,
        `EXEC:nsenter --net=/proc/${machinePid(guest)}/ns/net socat STDIO TCP\\:127.0.0.1\\:22`,
      ],
      {},
      join(guestDir, 'ssh-forward.log'),
    );
    const hostKey = join(keys, `guest-${guest.vmid}_host.pub`);
    guest.directSsh = { port, forwarderPid, hostKeySha256: fingerprint(hostKey) };
  }
}

/** The node machine, booted from its seed. Returns its pid. */
function startNode(dir: string, nodeDir: string): number {
  return startDetached(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'bash', join(repoRoot, 'lab/node/boot.sh')],
    {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LAB_MACHINE_DIR: nodeDir,
      LAB_TOOLS_DIR: join(dir, 'tools'),
      LAB_RUN_DIR: join(dir, 'run'),
      LAB_DISK_SIZE: '256m',
    },
    join(nodeDir, 'boot.log'),
  );
}

/** The operator's known_hosts: each node's host key, and each direct-SSH guest's, at their loopback ports. */
function writeKnownHosts(state: LabState, keys: string): void {
  const knownHost = (port: number, publicKeyPath: string) => {
    const [keyType, keyBody] = readFileSync(publicKeyPath, 'utf8').split(' ');
    return `[127.0.0.1]:${port} ${keyType} ${keyBody}\n`;
  };
  writeFileSync(
    state.knownHostsPath,
    [
      ...state.nodes.map((node) => knownHost(node.sshPort, `${nodeHostKey(keys, node.name)}.pub`)),
      ...state.guests.flatMap((g) =>
        g.directSsh ? [knownHost(g.directSsh.port, join(keys, `guest-${g.vmid}_host.pub`))] : [],
      ),
    ].join(''),
  );
}

/** Until each node's sshd answers and each guest's agent does (but the guests whose agent is down by a fault). */
async function waitForLab(state: LabState): Promise<void> {
  const { labDir: dir, options } = state;
  for (const node of state.nodes) await waitUntil(`node ${node.name}'s sshd`, () => connects(node.sshPort));
  await Promise.all(
    state.guests
      .filter((guest) => !options.faults.some((f) => f.vmid === guest.vmid && f.kind === 'agent-down'))
      .map((guest) =>
        waitUntil(`guest ${guest.vmid}'s agent`, () => agentAnswers(join(dir, 'run/qemu-server', `${guest.vmid}.qga`))),
      ),
  );
}

/** The fleet as the product reads it: every running guest; one node as `node`, several as `nodes`. */
function labInventory(state: LabState): Inventory {
  const endpoint = (node: LabNode) => ({
    host: '127.0.0.1',
    port: node.sshPort,
    user: 'root',
    privateKeyPath: state.privateKeyPath,
    hostKeySha256: node.hostKeySha256,
  });
  const several = state.nodes.length > 1;
  return InventorySchema.parse({
    ...(several
      ? { nodes: Object.fromEntries(state.nodes.map((node) => [node.name, endpoint(node)])) }
      : { node: endpoint(state.nodes[0]) }),
    panelRelease: state.panelRelease,
    installCommand: state.installCommand,
    vms: state.guests.map((guest) => ({
      vmid: guest.vmid,
      ip: guest.ip,
      name: guest.name,
      ...(several && { node: guest.node }),
      ...(guest.directSsh && {
        ssh: {
          host: '127.0.0.1',
          port: guest.directSsh.port,
          user: 'root',
          privateKeyPath: state.privateKeyPath,
          hostKeySha256: guest.directSsh.hostKeySha256,
        },
      }),
    })),
  });
}

/**
 * The process whose life is the VM's, as QEMU's is on a Proxmox node (qm status reads it from the pid file): the
 * guest's boot script, which boots it again when it reboots. Its network namespace is the guest's.
 */
function machinePid(guest: GuestState): number {
  return guest.booted.container.machinePid;
}

function labHealthy(state: LabState): boolean {
  return (
    state.nodes.every((node) => alive(node.pid)) &&
    alive(state.releaseServerPid) &&
    alive(state.registryPid) &&
    alive(state.modelStubPid) &&
    state.guests.every((guest) => alive(machinePid(guest)))
  );
}

function namespaceOf(pid: number, kind: 'mnt' | 'pid'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined; // exited
  }
}

/**
 * Every process living in one of the given namespaces: the node's sshd sessions and qm runs (its mount namespace),
 * a guest's services and Docker's containers (the guest's pid namespace, which outlives its PID 1 while it empties).
 */
function processesIn(namespaces: Set<string>): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter(
      (pid) =>
        pid !== process.pid &&
        (['mnt', 'pid'] as const).some((kind) => namespaces.has(namespaceOf(pid, kind) ?? '')) &&
        alive(pid), // a zombie is gone: it waits only for a parent (often killed too) to reap it
    );
}

function killNow(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Processes of a lab whose state file does not list them yet (a `lab up` that failed half-way): nspawn, the release
 * server, the registry and the bridges name the lab's directory on their command lines; a container's systemd is nspawn's child.
 */
export function processesNaming(dir: string): number[] {
  const named = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return pid !== process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/`);
      } catch {
        return false; // exited while we looked
      }
    });
  return named.flatMap((pid) => [forkedChild(pid) ?? [], pid].flat());
}

/** Stops every process the lab started and removes its files; the mounts and namespaces die with them. */
export async function labDown(dir = labDir()): Promise<void> {
  const state = readLabState(dir);
  if (state) {
    // The node has a mount namespace of its own only (its pids are the host's). A guest's boot script and nspawn
    // live in the machine's mount namespace, its services in its boot's mount and pid namespaces. Never the host's
    // own: a pid the state names may have died and been reused.
    const hostNamespaces = [namespaceOf(process.pid, 'mnt'), namespaceOf(process.pid, 'pid')];
    const namespaces = new Set(
      [
        ...state.nodes.map((node) => namespaceOf(node.pid, 'mnt')),
        ...state.guests.flatMap((guest) => [
          namespaceOf(machinePid(guest), 'mnt'),
          ...currentInit(guest).flatMap((init) => [namespaceOf(init, 'mnt'), namespaceOf(init, 'pid')]),
        ]),
      ].filter((ns): ns is string => ns !== undefined && !hostNamespaces.includes(ns)),
    );
    const forwarders = state.guests.flatMap((guest) => [
      ...(guest.directSsh ? [guest.directSsh.forwarderPid] : []),
      machinePid(guest),
      guest.booted.releaseBridgePid,
      guest.booted.registryBridgePid,
      guest.booted.modelBridgePid,
    ]);
    [...processesIn(namespaces), state.releaseServerPid, state.registryPid, state.modelStubPid, ...forwarders].forEach(
      killNow,
    );
    await waitUntil('the lab processes to exit', () => processesIn(namespaces).length === 0, 180_000);
    for (const guest of state.guests) await removeMachineCgroup(guest.booted.container.machineDir);
  }
  const unlisted = processesNaming(dir);
  unlisted.forEach(killNow);
  await waitUntil('the lab processes to exit', () => !unlisted.some(alive), 180_000);
  for (const entry of [
    'nodes',
    'guests',
    'run',
    'tools',
    'registry',
    'lab.json',
    'inventory.json',
    'release-server.log',
    'model-stub.log',
    'keys',
  ]) {
    rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

/** Runs a command inside a guest, as root in all its namespaces: the tests' and faults' view of the VM. */
export function guestExec(state: LabState, vmid: number, argv: string[], input?: string): SpawnSyncReturns<string> {
  return enterMachine(guestInit(state, vmid), argv, input);
}

function findGuest(state: LabState, vmid: number): GuestState {
  const guest = state.guests.find((g) => g.vmid === vmid);
  if (!guest) throw new Error(`lab: no guest ${vmid}`);
  return guest;
}

/** A real guest's PID 1 of the boot it is in, none while it reboots or once it is off. */
function currentInit(guest: GuestState): number[] {
  const init = containerInit(machinePid(guest));
  return init ? [init] : [];
}

/** Host pid of a guest's PID 1 now: a real guest's follows its reboots. */
export function guestInit(state: LabState, vmid: number): number {
  const guest = findGuest(state, vmid);
  const [init] = currentInit(guest);
  if (init === undefined) throw new Error(`lab: guest ${vmid} has no PID 1 now (rebooting, or powered off)`);
  return init;
}

/**
 * Waits until a real guest that was told to reboot has booted again (systemd running or degraded) and returns its
 * new PID 1. `rebooted` is the PID 1 before the reboot (guestInit's answer then).
 */
export async function waitForGuestBoot(
  state: LabState,
  vmid: number,
  rebooted: number,
  timeoutMs = 180_000,
): Promise<number> {
  const guest = findGuest(state, vmid);
  const init = await waitForBoot(machinePid(guest), {
    rebooted,
    timeoutMs,
    timeoutMessage: `lab: guest ${vmid} did not boot again within ${timeoutMs / 1000} s`,
  });
  // The fault watcher died with the old boot; a boot starts it when there are faults, as at `lab up`.
  if (readdirSync(faultDir(state.labDir, vmid)).length > 0) startFaultWatcher(init);
  return init;
}

export interface LabStatus {
  up: boolean;
  /** each node's sshd port on 127.0.0.1, and whether it runs */
  nodes?: { name: string; sshPort: number; alive: boolean }[];
  /** the operator's key and known_hosts for ssh to a node */
  ssh?: { privateKeyPath: string; knownHostsPath: string };
  /** the lab's npm registry: its socket on the host, and whether it runs */
  registry?: { socket: string; alive: boolean };
  /** every VM of the nodes, the stopped ones too */
  guests: { vmid: number; name: string; node: string; running: boolean; agent: boolean }[];
  inventoryPath?: string;
}

export async function labStatus(dir = labDir()): Promise<LabStatus> {
  const state = readLabState(dir);
  if (!state) return { up: false, guests: [] };
  const running = await Promise.all(
    state.guests.map(async (guest) => ({
      vmid: guest.vmid,
      name: guest.name,
      node: guest.node,
      running: alive(machinePid(guest)),
      agent: await agentAnswers(join(dir, 'run/qemu-server', `${guest.vmid}.qga`)),
    })),
  );
  const stopped = state.stopped.map(({ vmid, name, node }) => ({ vmid, name, node, running: false, agent: false }));
  return {
    up: labHealthy(state),
    nodes: state.nodes.map(({ name, sshPort, pid }) => ({ name, sshPort, alive: alive(pid) })),
    ssh: { privateKeyPath: state.privateKeyPath, knownHostsPath: state.knownHostsPath },
    registry: { socket: join(dir, 'run/registry.sock'), alive: alive(state.registryPid) },
    guests: [...running, ...stopped].sort((a, b) => a.vmid - b.vmid),
    inventoryPath: state.inventoryPath,
  };
}

/**
 * The real guests' faults that are one command of their systemd. A reboot is the VM's own: systemd stops the
 * services, nspawn exits 133 and the boot script boots the same disk again (see waitForGuestBoot). The agent's
 * restart kills what its `guest-exec` started: the children live in its unit's cgroup.
 */
const PLAYED_BY_SYSTEMCTL: Partial<Record<FaultKind, string[]>> = {
  'dockerd-restart': ['restart', 'docker'],
  'guest-reboot': ['reboot'],
  'agent-restart': ['restart', 'qemu-guest-agent'],
};

/** Injects a fault into a running guest; it acts as if it had been given at `lab up`. */
export function injectFault(state: LabState, fault: Fault): void {
  checkPlayable(fault, 'run time');
  writeFileSync(join(faultDir(state.labDir, fault.vmid), fault.kind), '');
  const systemctl = PLAYED_BY_SYSTEMCTL[fault.kind];
  if (systemctl) {
    const run = guestExec(state, fault.vmid, ['systemctl', ...systemctl]);
    if (run.status !== 0) throw new Error(`lab: systemctl ${systemctl.join(' ')} failed: ${run.stderr}`);
  } else if (fault.kind === 'agent-down') {
    guestExec(state, fault.vmid, ['systemctl', 'stop', 'qemu-guest-agent']);
  } else if (fault.kind !== 'install-hang' && fault.kind !== 'ssh-drop') {
    startFaultWatcher(guestInit(state, fault.vmid));
  }
}

/** The guest's watcher of the faults that strike in the middle of the SOP's work (lab/fault-watcher.sh). */
function startFaultWatcher(initPid: number): void {
  enterMachine(initPid, [
    '/bin/bash',
    '-c',
    'setsid /bin/bash /run/openclaw-lab/fault-watcher.sh </dev/null >/dev/null 2>&1 &',
  ]);
}

/** Takes a fault back: the agent comes up again, the watchers stop at their next look. */
export function clearFault(state: LabState, fault: Fault): void {
  rmSync(join(faultDir(state.labDir, fault.vmid), fault.kind), { force: true });
  if (fault.kind === 'agent-down') guestExec(state, fault.vmid, ['systemctl', 'start', 'qemu-guest-agent']);
}
