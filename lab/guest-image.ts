/**
 * The real guests' image, built once per machine into `~/.cache/openclaw-migrate/guest-image-<hash>/`, the hash
 * taken over everything that goes into it (so a change to any input builds a new one beside the old):
 *
 *     rootfs/                      Debian 12 minbase from this machine's apt sources (mmdebstrap) with systemd,
 *                                  dbus, qemu-guest-agent, docker.io, openssh-server, nginx, rsync, curl, python3,
 *                                  ca-certificates, iproute2, procps (and inotify-tools and socat for the lab's
 *                                  fault watcher); plus the compose v2 plugin, built from Go
 *                                  modules (Debian 12's docker.io has no `docker compose`)
 *     docker-<release>.tar         a Docker storage snapshot, one per DOCKER_ERA_RELEASES: the build guest's
 *                                  /var/lib/docker (overlay2, dockerd stopped, no containers) after `docker load` of
 *                                  that release's gateway image and the panel's, a tar that a guest's /var/lib/docker
 *                                  starts from (lab/nspawn-boot.sh), so no guest loads images. The gateway image:
 *                                  Node 24 and the real openclaw package of that release from its OpenClaw cache, at
 *                                  /app, run as node, uid 1000, as the real image is, tagged ghcr.io/openclaw/
 *                                  openclaw:<release>; 2026.2.19 is the registry's with its git-only libsignal
 *                                  overridden (lab/openclaw-cache.ts). The panel image: the lab's panel with its
 *                                  node_modules from `npm ci --omit=dev` of its lock (lab/panel-deps.ts), tagged as
 *                                  the record's
 *     state-<release>.tgz          the Docker-era state that release's real gateway wrote (lab/guest/seed-state.sh:
 *                                  onboarding, agent turns in three sessions, a cron job, a paired device, the
 *                                  user's workspace files), against the lab's model endpoint; each guest unpacks it
 *                                  into /data/openclaw. Beside it, state-<release>.tgz.sessions.json: that gateway's
 *                                  own `sessions --json` listing of it
 *                                  The images are made by `docker import` in a booted build guest, because no
 *                                  registry serves images here, and the states by running them there
 *     marker.json                  written last: inputs, size, build time; without it the image is rebuilt
 *
 *     tsx lab/guest-image.ts       builds the image if this machine has none, prints it as JSON
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import {
  bootContainer,
  bridgeIntoMachine,
  enterMachine,
  inMachine,
  killContainer,
  MACHINE_LAN_ADDRESS,
} from './machine';
import { MODEL_BASE_URL_IN_GUEST, MODEL_HOST, MODEL_PORT_IN_GUEST, startModelStub } from './model-stub';
import {
  DEFAULT_DOCKER_ERA_RELEASE,
  defaultCacheDir,
  DOCKER_ERA_RELEASES,
  prepareOpenClawCache,
  run,
  type Log,
  type OpenClawRelease,
} from './openclaw-cache';
import { PANEL_APP_DIR, preparePanelDeps } from './panel-deps';
import { withPidLock } from './shared/pid-lock';
import { printPreparedCache } from './shared/cache-main';

/** Bump when the image's layout changes in a way its inputs do not show. */
const IMAGE_FORMAT = 3;
export const GUEST_SUITE = 'bookworm';
export const GUEST_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'qemu-guest-agent',
  'docker.io',
  'openssh-server',
  'nginx',
  'rsync',
  'curl',
  'python3',
  'ca-certificates',
  'iproute2',
  'procps',
  // not a customer's: the tools of the lab's fault watcher (lab/fault-watcher.sh), which runs in the guest
  'inotify-tools',
  'socat',
] as const;
export const COMPOSE_MODULE = 'github.com/docker/compose/v2';
export const COMPOSE_VERSION = 'v2.40.3';
/** A Docker-era gateway image: the record's name (vmid 105's compose file), tagged with its release. */
export const gatewayImage = (release: OpenClawRelease) => `ghcr.io/openclaw/openclaw:${release}`;
/** The Docker-era images of a guest of the default release. */
export const DOCKER_ERA_IMAGES = {
  gateway: gatewayImage(DEFAULT_DOCKER_ERA_RELEASE),
  panel: 'ghcr.io/bianshumeng/openclaw-panel:v2026.02.10',
} as const;
const APT_SOURCES = '/etc/apt/sources.list.d/debian.sources';

export interface GuestImage {
  dir: string;
  rootfs: string;
  /** each release's Docker storage snapshot (a tar of /var/lib/docker holding its gateway image and the panel's) */
  dockerSnapshot: Record<OpenClawRelease, string>;
  /** the state each release's gateway wrote, and its `sessions --json` listing of it */
  stateTgz: Record<OpenClawRelease, string>;
  sizeBytes: number;
  /** True when this call built the image. */
  built: boolean;
  /** How long the (last) build took. */
  buildMs: number;
}

interface Marker {
  inputs: Record<string, unknown>;
  sizeBytes: number;
  builtAt: string;
  buildMs: number;
}

const defaultLog: Log = (line) => process.stderr.write(`guest-image: ${line}\n`);

/** The app's own files (not a node_modules a developer installed: the lock says what the image holds). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !relative(dir, file).split('/').includes('node_modules'))
    .sort();
}

/** Everything the image is made of; its hash names the image's directory. */
async function imageInputs(log: Log): Promise<Record<string, unknown>> {
  const openclaw: Record<string, string> = {};
  for (const release of DOCKER_ERA_RELEASES) {
    const cache = await prepareOpenClawCache({ release, log: (line) => log(`openclaw-cache: ${line}`) });
    openclaw[release] = `${cache.versionOutput} ${cache.sizeBytes}`;
  }
  const source = (file: string) => readFileSync(join(__dirname, file));
  return {
    format: IMAGE_FORMAT,
    suite: GUEST_SUITE,
    packages: GUEST_PACKAGES,
    aptSources: readFileSync(APT_SOURCES, 'utf8'),
    compose: `${COMPOSE_MODULE}@${COMPOSE_VERSION}`,
    openclaw,
    images: { gateway: DOCKER_ERA_RELEASES.map(gatewayImage), panel: DOCKER_ERA_IMAGES.panel },
    panelApp: createHash('sha256')
      .update(
        filesUnder(PANEL_APP_DIR)
          // relative names: the same lab in another checkout is the same image
          .map((file) => `${relative(PANEL_APP_DIR, file)}\n${readFileSync(file, 'utf8')}`)
          .join('\n'),
      )
      .digest('hex'),
    scripts: createHash('sha256').update(source('nspawn-boot.sh')).update(source('guest/seed-state.sh')).digest('hex'),
  };
}

/** Builds `docker compose` from its Go module as the main module (its go.mod's excludes rule out `go install`). */
async function buildCompose(work: string, target: string, log: Log): Promise<void> {
  const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' };
  const download = JSON.parse(
    await run('go', ['mod', 'download', '-json', `${COMPOSE_MODULE}@${COMPOSE_VERSION}`], { env }),
  ) as { Dir: string };
  const source = join(work, 'compose-src');
  cpSync(download.Dir, source, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', source]);
  mkdirSync(dirname(target), { recursive: true });
  log(`go build ${COMPOSE_MODULE}/cmd@${COMPOSE_VERSION} (a few minutes)`);
  await run(
    'go',
    [
      'build',
      '-trimpath',
      '-ldflags',
      `-s -w -X ${COMPOSE_MODULE}/internal.Version=${COMPOSE_VERSION}`,
      '-o',
      target,
      './cmd',
    ],
    { env: { ...env, CGO_ENABLED: '0' }, cwd: source },
  );
  rmSync(source, { recursive: true, force: true });
}

/** The shared libraries a host program needs (ldd), to make a root file system that runs it. */
function sharedLibraries(program: string): string[] {
  return execFileSync('ldd', [program], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /(\/\S+) \(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
}

/**
 * A small root file system for a Docker-era OpenClaw image: Node at /usr/local/bin/node with the libraries it
 * links, /bin/sh, an app at /app (with `nodeModules` as its node_modules, when given).
 */
function imageRoot(root: string, nodeBinary: string, appDir: string, nodeModules?: string): void {
  for (const program of [nodeBinary, '/bin/sh']) {
    for (const library of sharedLibraries(program)) {
      mkdirSync(join(root, dirname(library)), { recursive: true });
      // copyFileSync follows the link and keeps the mode (Node 24's cpSync takes a linked file for a directory)
      copyFileSync(library, join(root, library));
    }
  }
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  cpSync(nodeBinary, join(root, 'usr/local/bin/node'));
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync('/bin/sh', join(root, 'bin/sh'));
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  for (const dir of ['tmp', 'root', 'home/node']) mkdirSync(join(root, dir), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  chownSync(join(root, 'home/node'), 1000, 1000);
  const own = (src: string) => !nodeModules || src !== join(appDir, 'node_modules');
  cpSync(appDir, join(root, 'app'), { recursive: true, verbatimSymlinks: true, filter: own });
  if (nodeModules) cpSync(nodeModules, join(root, 'app/node_modules'), { recursive: true, verbatimSymlinks: true });
  // readable by the image's user: a package unpacked from its npm tarball keeps the tarball's modes, and 2026.2.19's
  // has files only their owner reads (dist/paths-*.js, 0600), which `npm install -g` would have normalized
  execFileSync('chmod', ['-R', 'a+rX', join(root, 'app')]);
}

/**
 * Imports the image roots into the Docker of a booted build guest, runs each gateway image on a state of its own
 * (lab/guest/seed-state.sh) against the lab's model endpoint, bridged in, and snapshots for each release a Docker
 * storage that holds its gateway image and the panel's, loaded from their `docker save` into an empty one.
 */
async function makeDockerImages(work: string, rootfs: string, log: Log): Promise<void> {
  const machineDir = join(work, 'build-guest');
  mkdirSync(machineDir, { recursive: true });
  copyFileSync(join(__dirname, 'guest/seed-state.sh'), join(work, 'seed-state.sh'));
  log('booting a build guest (systemd-nspawn) to make the Docker-era images with its Docker');
  const guest = await bootContainer({
    imageRoot: rootfs,
    machineDir,
    hostname: 'guest-image-build',
    diskSize: '1g',
    dockerSize: '8g',
    binds: [{ host: work, guest: '/run/guest-image' }],
  });
  const model = await startModelStub([{ socketPath: join(work, 'model.sock'), logPath: join(work, 'model-seed.log') }]);
  const bridge = bridgeIntoMachine(guest, MODEL_PORT_IN_GUEST, join(work, 'model.sock'), MACHINE_LAN_ADDRESS);
  const inGuest = (what: string, script: string, ...args: string[]) => {
    const done = enterMachine(guest.initPid, ['/bin/bash', '-c', `set -euo pipefail\n${script}`, what, ...args]);
    if (done.status !== 0) throw new Error(`guest-image: ${what} failed:\n${done.stderr}${done.stdout}`);
    return done.stdout;
  };
  try {
    inGuest(
      'making the Docker images',
      `systemctl is-active --quiet docker || systemctl start docker
import_root() { tar -C "$1" -c . | docker import "\${@:3}" - "$2" >/dev/null; }
import_root /run/guest-image/panel-root "$1" --change 'WORKDIR /app' --change 'CMD ["node", "src/server.js"]'
docker save -o /run/guest-image/panel.tar "$1"`,
      DOCKER_ERA_IMAGES.panel,
    );
    for (const release of DOCKER_ERA_RELEASES) {
      const image = gatewayImage(release);
      inGuest(
        `making the ${release} gateway image`,
        `tar -C "/run/guest-image/gateway-root-$2" -c . | docker import --change 'WORKDIR /app' --change 'USER node' \
  --change 'ENV HOME=/home/node' --change 'CMD ["node", "dist/index.js", "gateway", "--bind", "lan", "--port", "18789"]' \
  - "$1" >/dev/null
docker save -o "/run/guest-image/gateway-$2.tar" "$1"`,
        image,
        release,
      );
      const started = Date.now();
      log(`seeding the ${release} state with its gateway (onboarding, 6 agent turns, a cron job)`);
      // not enterMachine: its spawnSync would block this process's event loop, and the model endpoint with it
      await run(
        'nsenter',
        inMachine(guest.initPid, [
          'bash',
          '/run/guest-image/seed-state.sh',
          image,
          `/run/guest-image/state-${release}.tgz`,
          MODEL_BASE_URL_IN_GUEST,
          `${MODEL_HOST}:${MACHINE_LAN_ADDRESS}`,
        ]),
        { log, prefix: `seed ${release}: ` },
      );
      log(`${release} state seeded in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    log(`images: ${inGuest('listing the images', "docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}'")}`);
    for (const release of DOCKER_ERA_RELEASES) {
      inGuest(
        `snapshotting the ${release} Docker storage`,
        // dockerd stopped (its socket too, or a client would start it again), its storage emptied, then only these
        // images loaded: the snapshot holds no container, network or volume of the seeding
        `systemctl stop docker.socket docker
find /var/lib/docker -mindepth 1 -maxdepth 1 -exec rm -rf {} +
systemctl start docker
for image in "/run/guest-image/gateway-$1.tar" /run/guest-image/panel.tar; do docker load -q -i "$image" >/dev/null; done
systemctl stop docker.socket docker
tar --numeric-owner --xattrs --xattrs-include='*' -C /var/lib/docker -cf "/run/guest-image/docker-$1.tar" .`,
        release,
      );
    }
  } finally {
    process.kill(bridge, 'SIGTERM');
    await model.close();
    await killContainer(guest);
  }
  rmSync(join(work, 'seed-state.sh'), { force: true });
  for (const saved of [...DOCKER_ERA_RELEASES.map((release) => `gateway-${release}.tar`), 'panel.tar'])
    rmSync(join(work, saved), { force: true });
  for (const release of DOCKER_ERA_RELEASES)
    rmSync(join(work, `gateway-root-${release}`), { recursive: true, force: true });
  rmSync(join(work, 'panel-root'), { recursive: true, force: true });
}

async function build(dir: string, inputs: Record<string, unknown>, log: Log): Promise<Marker> {
  const started = Date.now();
  const work = `${dir}.work`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // first: it needs the npm registry, which a build should find missing before its minutes of mmdebstrap
  const panelDeps = await preparePanelDeps({ log: (line) => log(`panel-deps: ${line}`) });
  const rootfs = join(work, 'rootfs');
  log(`mmdebstrap ${GUEST_SUITE} with ${GUEST_PACKAGES.join(',')} (about a minute or two)`);
  await run(
    'mmdebstrap',
    ['--variant=minbase', `--include=${GUEST_PACKAGES.join(',')}`, GUEST_SUITE, rootfs, APT_SOURCES],
    { log, prefix: 'mmdebstrap: ' },
  );
  log(`guest root file system ready after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await buildCompose(work, join(rootfs, 'usr/libexec/docker/cli-plugins/docker-compose'), log);
  log(`compose plugin built after ${((Date.now() - started) / 1000).toFixed(0)} s`);

  for (const release of DOCKER_ERA_RELEASES) {
    const openclaw = await prepareOpenClawCache({ release, log });
    const prefix = join(work, 'openclaw-prefix');
    mkdirSync(prefix);
    execFileSync('tar', ['-xzf', openclaw.prefixTgz, '-C', prefix]);
    const node = join(prefix, 'bin/node');
    imageRoot(join(work, `gateway-root-${release}`), node, join(prefix, 'lib/node_modules/openclaw'));
    if (!existsSync(join(work, 'panel-root'))) {
      imageRoot(join(work, 'panel-root'), node, PANEL_APP_DIR, panelDeps.nodeModules);
    }
    rmSync(prefix, { recursive: true, force: true });
  }
  await makeDockerImages(work, rootfs, log);

  const sizeBytes = Number(execFileSync('du', ['-sb', work], { encoding: 'utf8' }).split('\t')[0]);
  const marker: Marker = { inputs, sizeBytes, builtAt: new Date().toISOString(), buildMs: Date.now() - started };
  rmSync(join(work, 'build-guest'), { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  writeFileSync(join(dir, 'marker.json'), JSON.stringify(marker, null, 2) + '\n');
  log(`built in ${(marker.buildMs / 1000).toFixed(0)} s (${(sizeBytes / 2 ** 20).toFixed(0)} MiB): ${dir}`);
  return marker;
}

function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'marker.json'), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

const perRelease = (path: (release: OpenClawRelease) => string) =>
  Object.fromEntries(DOCKER_ERA_RELEASES.map((release) => [release, path(release)])) as Record<OpenClawRelease, string>;

/** Returns this machine's guest image, building it first when there is none for today's inputs. */
export async function prepareGuestImage(opts: { log?: Log; cacheRoot?: string } = {}): Promise<GuestImage> {
  const log = opts.log ?? defaultLog;
  const inputs = await imageInputs(log);
  const hash = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
  const cacheRoot = opts.cacheRoot ?? dirname(defaultCacheDir());
  const dir = join(cacheRoot, `guest-image-${hash}`);
  const result = (marker: Marker, built: boolean): GuestImage => ({
    dir,
    rootfs: join(dir, 'rootfs'),
    dockerSnapshot: perRelease((release) => join(dir, `docker-${release}.tar`)),
    stateTgz: perRelease((release) => join(dir, `state-${release}.tgz`)),
    sizeBytes: marker.sizeBytes,
    built,
    buildMs: marker.buildMs,
  });
  const ready = readMarker(dir);
  if (ready) return result(ready, false);
  mkdirSync(cacheRoot, { recursive: true });
  let announced = false;
  const waiting = (holder: number) => {
    if (!announced) log(`waiting for pid ${holder}, which is building the guest image`);
    announced = true;
  };
  return withPidLock(`${dir}.lock`, { pollMs: 1000, waiting }, async () => {
    const again = readMarker(dir); // another process may have built it while we waited
    if (again) return result(again, false);
    log(`no guest image for these inputs on this machine: building ${dir}`);
    return result(await build(dir, inputs, log), true);
  });
}

export const main = () => printPreparedCache('guest-image', () => prepareGuestImage());

if (require.main === module) {
  void main();
}
