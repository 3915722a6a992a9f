import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { DOCKER_ERA_IMAGES } from './guest-image';
import { GUEST_REGISTRY_PORT } from './registry';

/** How much user data a guest starts with; the record's vmid 105 had 6 sessions and 584 workspace files. */
export interface GuestDataShape {
  sessions: number;
  workspaceFiles: number;
  bigFileMiB: number;
}

export interface GuestSeed {
  vmid: number;
  webLoginPassword: string;
  gatewayToken: string;
  panelGithubToken: string;
}

function write(root: string, path: string, content: string | Buffer, mode = 0o644): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content);
  chmodSync(full, mode);
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

/** Writes the files of a Docker-era OpenClaw VM (as vmid 105 was before its migration) under `root`. */
export function seedGuestData(root: string, seed: GuestSeed, shape: GuestDataShape): void {
  write(
    root,
    'data/openclaw/openclaw.json',
    json({
      gateway: { port: 18789, bind: 'lan', mode: 'local', auth: { mode: 'token', token: seed.gatewayToken } },
      agents: { defaults: { workspace: '/home/node/.openclaw/workspace' } },
      meta: { lastTouchedVersion: '2026.2.19-2' },
    }),
    0o600,
  );
  for (let i = 0; i < shape.sessions; i++) {
    const lines = Array.from({ length: 5 + i }, (_, turn) =>
      JSON.stringify({ role: turn % 2 ? 'assistant' : 'user', text: `session ${i} turn ${turn}` }),
    );
    write(
      root,
      `data/openclaw/agents/main/sessions/session-${String(i).padStart(3, '0')}.jsonl`,
      lines.join('\n') + '\n',
    );
  }
  write(root, 'data/openclaw/agents/main/sessions/sessions.json', json({ count: shape.sessions }));

  // The workspace: nested directories, a symlink, a hardlink, names with spaces and non-ASCII, one large file.
  const special = 5; // the regular files written after the loop, the hardlink included (find -type f counts it)
  for (let i = 0; i < shape.workspaceFiles - special; i++) {
    const dir = `data/openclaw/workspace/projects/p${i % 7}/notes/n${i % 3}`;
    write(root, `${dir}/note-${i}.md`, `# note ${i}\n${'memory '.repeat(i % 50)}\n`, i % 5 === 0 ? 0o600 : 0o644);
  }
  write(root, 'data/openclaw/workspace/用户 文件/报告 2026 final.md', '# 报告\n迁移前的用户文件\n');
  write(root, 'data/openclaw/workspace/scripts/backup.sh', '#!/bin/sh\necho backup\n', 0o755);
  write(root, 'data/openclaw/workspace/MEMORY.md', '# memory\nthe user likes short answers\n');
  write(root, 'data/openclaw/workspace/media/recording.bin', randomBytes(shape.bigFileMiB * 1024 * 1024));
  linkSync(join(root, 'data/openclaw/workspace/MEMORY.md'), join(root, 'data/openclaw/workspace/MEMORY.hardlink.md'));
  symlinkSync('media/recording.bin', join(root, 'data/openclaw/workspace/latest-recording'));

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
 * A guest's own configuration: the compose project Docker runs (vmid 105's, with the guest's restart policy),
 * npm's registry, and qemu-ga as a service on a unix socket the node reaches, as virtio-serial would carry it on a VM.
 */
export function seedGuestSystem(root: string, vm: { vmid: number; name: string }, restart: RestartPolicy): void {
  write(root, 'etc/hostname', `${vm.name}\n`); // the image's is the build machine's, and systemd prefers it
  const compose = {
    services: {
      'openclaw-gateway': {
        image: DOCKER_ERA_IMAGES.gateway,
        container_name: 'openclaw-gateway',
        restart,
        environment: ['HOME=/home/node', 'TZ=Asia/Shanghai'],
        volumes: ['/data/openclaw:/home/node/.openclaw'],
        ports: ['127.0.0.1:28789:18789'],
        command: ['node', 'openclaw.mjs', 'gateway', '--bind', 'lan', '--port', '18789', '--allow-unconfigured'],
      },
      'openclaw-panel': {
        image: DOCKER_ERA_IMAGES.panel,
        container_name: 'openclaw-panel',
        restart,
        depends_on: ['openclaw-gateway'],
        environment: ['PANEL_CONFIG_PATH=/data/panel/panel.config.json'],
        volumes: [
          '/data/panel:/data/panel',
          '/data/openclaw:/root/.openclaw',
          '/var/run/docker.sock:/var/run/docker.sock',
        ],
        ports: ['127.0.0.1:28080:18080'],
      },
    },
  };
  write(root, 'opt/openclaw/docker-compose.yml', stringify(compose));
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
