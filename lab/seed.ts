import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { DOCKER_ERA_IMAGES, gatewayImage } from './guest-image';
import { MACHINE_LAN_ADDRESS } from './machine';
import { MODEL_HOST } from './model-stub';
import type { OpenClawRelease } from './openclaw-cache';
import { GUEST_REGISTRY_PORT } from './registry';

/**
 * How much of the lab's own user data a guest's workspace gets on top of what the real gateway wrote (the record's
 * vmid 105 had 584 workspace files): `workspaceFiles` files, a large one among them.
 */
export interface GuestDataShape {
  workspaceFiles: number;
  bigFileMiB: number;
}

export interface GuestSeed {
  vmid: number;
  webLoginPassword: string;
  gatewayToken: string;
  panelGithubToken: string;
  /** the Docker-era release the guest runs, and the state its real gateway wrote (lab/guest/seed-state.sh) */
  release: OpenClawRelease;
  stateTgz: string;
}

/** The Docker-era image's user (node), who owns the state the container writes. */
const NODE_UID = 1000;

function write(root: string, path: string, content: string | Buffer, mode = 0o644, owner?: number): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content);
  chmodSync(full, mode);
  if (owner !== undefined) chownSync(full, owner, owner);
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** A wrapper on the node's PATH that runs one of the lab's bundled tools on the lab's own Node.js. */
export function toolWrapper(tool: string): string {
  return `#!/bin/sh\nexec /run/openclaw-lab/node /run/openclaw-lab/${tool}.js "$@"\n`;
}

const nginxFronts = `# Fronts of the OpenClaw VM: outer 18080 -> panel 28080, 18789 -> gateway 28789, behind basic auth.
map $http_upgrade $connection_upgrade { default upgrade; '' close; }
server {
  listen 18080;
  auth_basic "OpenClaw";
  auth_basic_user_file /etc/nginx/openclaw.htpasswd;
  location / { proxy_pass http://127.0.0.1:28080; proxy_set_header Host $host; }
}
server {
  listen 18789;
  auth_basic "OpenClaw";
  auth_basic_user_file /etc/nginx/openclaw.htpasswd;
  location / {
    proxy_pass http://127.0.0.1:28789;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;
  }
}
`;

/**
 * Writes the files of a Docker-era OpenClaw VM (as vmid 105 was before its migration) under `root`: /data/openclaw
 * is the state the release's real gateway wrote (unpacked with its owners, uid 1000), plus the lab's user files in
 * its workspace (nested directories, a symlink, a hardlink, names with spaces and non-ASCII, one large file).
 */
export function seedGuestData(root: string, seed: GuestSeed, shape: GuestDataShape): void {
  const state = join(root, 'data/openclaw');
  mkdirSync(state, { recursive: true });
  chownSync(state, NODE_UID, NODE_UID);
  execFileSync('tar', ['-xzf', seed.stateTgz, '-C', state, '--same-owner', '--numeric-owner']);
  const user = (path: string, content: string | Buffer, mode = 0o644) =>
    write(root, `data/openclaw/workspace/${path}`, content, mode, NODE_UID);
  const special = 4; // the regular files written after the loop, the hardlink included (find -type f counts it)
  for (let i = 0; i < shape.workspaceFiles - special; i++) {
    user(
      `projects/p${i % 7}/notes/n${i % 3}/note-${i}.md`,
      `# note ${i}\n${'memory '.repeat(i % 50)}\n`,
      i % 5 ? 0o644 : 0o600,
    );
  }
  user('用户 文件/报告 2026 final.md', '# 报告\n迁移前的用户文件\n');
  user('scripts/backup.sh', '#!/bin/sh\necho backup\n', 0o755);
  user('media/recording.bin', randomBytes(shape.bigFileMiB * 1024 * 1024));
  linkSync(join(state, 'workspace/MEMORY.md'), join(state, 'workspace/MEMORY.hardlink.md'));
  symlinkSync('media/recording.bin', join(state, 'workspace/latest-recording'));
  execFileSync('chown', ['-R', '--no-dereference', `${NODE_UID}:${NODE_UID}`, join(state, 'workspace')]);

  write(
    root,
    'data/panel/panel.config.json',
    json({
      runtime: { mode: 'docker' },
      panel: { listen_host: '0.0.0.0', listen_port: 18080 },
      openclaw: {
        config_path: '/root/.openclaw/openclaw.json',
        service_name: 'openclaw-gateway',
        gateway_port: 18789,
        gateway_ws_url: 'ws://openclaw-gateway:18789',
      },
      docker: { enabled: true, gateway_container: 'openclaw-gateway' },
      log: { source: 'docker' },
      update: { github_token: seed.panelGithubToken, panel_release_repo: 'Bianshumeng/openclaw-panel-public' },
    }),
    0o600,
  );
  write(
    root,
    'root/.ssh/authorized_keys',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyOfTheCustomer operator@panel\n',
    0o600,
  );
  chmodSync(join(root, 'root/.ssh'), 0o700);
  write(root, 'root/OPENCLAW_WEB_LOGIN.txt', `username: admin\npassword: ${seed.webLoginPassword}\n`, 0o600);

  write(root, 'etc/nginx/conf.d/openclaw.conf', nginxFronts);
  const sha1 = createHash('sha1').update(seed.webLoginPassword).digest('base64');
  write(root, 'etc/nginx/openclaw.htpasswd', `admin:{SHA}${sha1}\n`, 0o640);
  chownSync(join(root, 'etc/nginx/openclaw.htpasswd'), 0, WWW_DATA_GID); // nginx's workers read it
}

/** Debian's fixed gid of www-data (base-passwd), which nginx's workers run as. */
const WWW_DATA_GID = 33;

export type RestartPolicy = 'unless-stopped' | 'always';

/** Where a guest's qemu-ga listens: the node's /var/run/qemu-server, bind-mounted into the guest. */
export const GUEST_QGA_DIR = '/run/openclaw-lab-qga';

/**
 * A guest machine, OpenClaw or not: its name; npm's registry; the model endpoint's name; and qemu-ga as a service on a
 * unix socket the node reaches, as virtio-serial would carry it on a VM.
 */
export function seedGuestMachine(root: string, vm: { vmid: number; name: string }): void {
  write(root, 'etc/hostname', `${vm.name}\n`); // the image's is the build machine's, and systemd prefers it
  // the lab's model endpoint (lab/model-stub.ts) at the guest's LAN address, for the direct install after a migration
  write(
    root,
    'etc/hosts',
    `127.0.0.1 localhost\n${MACHINE_LAN_ADDRESS} ${MODEL_HOST}\n::1 localhost ip6-localhost ip6-loopback\n`,
  );
  // npm's registry is the lab's (bridged in at 127.0.0.1:4873), as on a VM configured with a mirror: the installer's
  // `npm install -g` and the panel's `npm install` use it; nothing reaches the internet from a guest.
  write(root, 'root/.npmrc', `registry=http://127.0.0.1:${GUEST_REGISTRY_PORT}/\n`, 0o600);
  // A whole unit, not a drop-in: Debian's binds the agent to its virtio port device, which a container never has,
  // and a drop-in cannot take a dependency away.
  write(
    root,
    'etc/systemd/system/qemu-guest-agent.service',
    [
      '[Unit]',
      'Description=QEMU Guest Agent (on the lab node socket)',
      '',
      '[Service]',
      `ExecStart=/usr/sbin/qemu-ga --method=unix-listen --path=${GUEST_QGA_DIR}/${vm.vmid}.qga`,
      'Restart=always',
      'RestartSec=0',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
  );
  const wants = join(root, 'etc/systemd/system/multi-user.target.wants');
  mkdirSync(wants, { recursive: true });
  symlinkSync('/etc/systemd/system/qemu-guest-agent.service', join(wants, 'qemu-guest-agent.service'));
}

/**
 * A Docker-era guest's compose project, in the shape of the panel's public compose (Bianshumeng/openclaw-panel-public,
 * docker-compose.yml and .env.example: the values in .env, the gateway token only there) with the record's paths and
 * ports (vmid 105's) and the guest's restart policy and Docker-era release.
 */
export function seedGuestSystem(
  root: string,
  restart: RestartPolicy,
  seed: Pick<GuestSeed, 'release' | 'gatewayToken'>,
): void {
  const compose = {
    services: {
      'openclaw-gateway': {
        image: '${OPENCLAW_IMAGE}',
        container_name: 'openclaw-gateway',
        restart,
        environment: {
          HOME: '/home/node',
          TERM: 'xterm-256color',
          TZ: 'Asia/Shanghai',
          OPENCLAW_GATEWAY_TOKEN: '${OPENCLAW_GATEWAY_TOKEN}',
        },
        volumes: ['/data/openclaw:/home/node/.openclaw'],
        ports: [
          '${OPENCLAW_GATEWAY_BIND_IP:-127.0.0.1}:${OPENCLAW_GATEWAY_PORT:-28789}:${OPENCLAW_GATEWAY_CONTAINER_PORT:-18789}',
        ],
        command: [
          'node',
          'dist/index.js',
          'gateway',
          '--bind',
          '${OPENCLAW_GATEWAY_BIND:-lan}',
          '--port',
          '${OPENCLAW_GATEWAY_CONTAINER_PORT:-18789}',
        ],
        // the lab's one addition: the model endpoint the bot was onboarded with, on the guest (bridged in)
        extra_hosts: [`${MODEL_HOST}:host-gateway`],
        networks: ['openclaw-internal'],
      },
      'openclaw-panel': {
        image: DOCKER_ERA_IMAGES.panel,
        container_name: 'openclaw-panel',
        restart,
        depends_on: ['openclaw-gateway'],
        environment: {
          PANEL_CONFIG_PATH: '/data/panel/panel.config.json',
          OPENCLAW_GATEWAY_CONTAINER_PORT: '${OPENCLAW_GATEWAY_CONTAINER_PORT:-18789}',
          OPENCLAW_GATEWAY_TOKEN: '${OPENCLAW_GATEWAY_TOKEN}',
        },
        volumes: [
          '/data/panel:/data/panel',
          '/data/openclaw:/root/.openclaw',
          '/var/run/docker.sock:/var/run/docker.sock',
        ],
        ports: ['${PANEL_BIND_IP:-127.0.0.1}:${PANEL_PORT:-28080}:${PANEL_CONTAINER_PORT:-18080}'],
        networks: ['openclaw-internal'],
      },
    },
    networks: { 'openclaw-internal': { name: '${OPENCLAW_INTERNAL_NETWORK:-openclaw-internal}' } },
  };
  write(root, 'opt/openclaw/docker-compose.yml', stringify(compose));
  write(
    root,
    'opt/openclaw/.env',
    [
      `OPENCLAW_IMAGE=${gatewayImage(seed.release)}`,
      `OPENCLAW_GATEWAY_TOKEN=${seed.gatewayToken}`,
      'OPENCLAW_GATEWAY_BIND=lan',
      'OPENCLAW_GATEWAY_BIND_IP=127.0.0.1',
      'OPENCLAW_GATEWAY_PORT=28789',
      'OPENCLAW_GATEWAY_CONTAINER_PORT=18789',
      'PANEL_BIND_IP=127.0.0.1',
      'PANEL_PORT=28080',
      'PANEL_CONTAINER_PORT=18080',
      'OPENCLAW_UPDATE_GITHUB_TOKEN=',
      'OPENCLAW_INTERNAL_NETWORK=openclaw-internal',
      '',
    ].join('\n'),
    0o600,
  );
}
