import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  humanDuration,
  humanSize,
  procStartTime,
  readState,
  seedDockerLab,
  standInAlive,
  tabwrite,
  type ContainerRecord,
} from '../../lab/guest/docker';
import { bundleTools } from '../../lab/lab';
import { freePort } from '../../lab/shared/net';
import { execResult, type ExecResult } from '../support/exec';
import { httpGet as get } from '../support/net';
import { waitFor } from '../support/wait';

/** The docker stand-in as the guests run it: bundled by esbuild, `node docker.js …`, state under LAB_ROOT. */
let tmp: string;
let tools: string;
let root: string;
let composeDir: string;
let gatewayPort: number;
let panelPort: number;

const GATEWAY_IMAGE = 'ghcr.io/openclaw/openclaw:2026.2.19';
const PANEL_IMAGE = 'ghcr.io/bianshumeng/openclaw-panel:v2026.02.10';

function docker(args: string[], cwd = composeDir): Promise<ExecResult> {
  return execResult(process.execPath, [join(tools, 'docker.js'), ...args], {
    cwd,
    env: { ...process.env, LAB_ROOT: root },
    timeout: 60_000,
  });
}

/** The stand-ins answer at once: 3 s of silence is a failure. */
const httpGet = (port: number, path = '/') => get(port, path, 3000);

const answers = (port: number) =>
  httpGet(port).then(
    (r) => r.status,
    () => 0,
  );

const container = (name: string): ContainerRecord => {
  const c = readState(root).containers.find((x) => x.name === name && x.status !== 'removed');
  if (!c) throw new Error(`no container ${name}`);
  return c;
};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lab-docker-'));
  tools = join(tmp, 'tools');
  root = join(tmp, 'root');
  await bundleTools(tools, ['docker', 'container']);
  gatewayPort = await freePort();
  panelPort = await freePort();
  seedDockerLab({ root, gatewayPort, panelPort, gatewayImage: GATEWAY_IMAGE, panelImage: PANEL_IMAGE });
  composeDir = join(root, 'opt/openclaw');
});

afterAll(() => {
  if (!root) return;
  for (const c of readState(root).containers) {
    if (c.pid && standInAlive(c)) process.kill(c.pid, 'SIGKILL');
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('formatting helpers, as docker/go-units do it', () => {
  it('HumanDuration', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1_000)).toBe('1 second');
    expect(humanDuration(59_000)).toBe('59 seconds');
    expect(humanDuration(60_000)).toBe('About a minute');
    expect(humanDuration(3 * 60_000)).toBe('3 minutes');
    expect(humanDuration(89 * 60_000)).toBe('About an hour');
    expect(humanDuration(91 * 60_000)).toBe('2 hours');
    expect(humanDuration(14 * 3_600_000 + 5_000)).toBe('14 hours');
    expect(humanDuration(3 * 86_400_000)).toBe('3 days');
    expect(humanDuration(20 * 86_400_000)).toBe('2 weeks');
  });

  it('HumanSize', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(2_155_669_134)).toBe('2.156GB');
    expect(humanSize(312_456_789, 3)).toBe('312MB');
  });

  it('tabwriter: minwidth 10, padding 3, the last cell unpadded, empty cells padded', () => {
    expect(tabwrite('A\tB\tC\nlonger-name\tx\t\n')).toBe(
      'A' + ' '.repeat(13) + 'B' + ' '.repeat(9) + 'C\n' + 'longer-name   ' + 'x' + ' '.repeat(9) + '\n',
    );
  });
});

describe('docker stand-in', () => {
  it('ps --format tables are laid out as docker lays them out', async () => {
    const scan = await docker(['ps', '--format', 'table {{.Names}}\\t{{.Status}}\\t{{.Ports}}']);
    expect(scan.code).toBe(0);
    // NAMES is 16 + 3 wide, STATUS 11 + 3; the last column is not padded. Newest container first.
    expect(scan.stdout).toBe(
      'NAMES              STATUS        PORTS\n' +
        `openclaw-panel     Up 14 hours   127.0.0.1:${panelPort}->18080/tcp\n` +
        `openclaw-gateway   Up 14 hours   127.0.0.1:${gatewayPort}->18789/tcp\n`,
    );
    const all = await docker(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Status}}']);
    expect(all.stdout).toBe(
      'NAMES              STATUS\nopenclaw-panel     Up 14 hours\nopenclaw-gateway   Up 14 hours\n',
    );

    const plain = await docker(['ps']);
    const ids = (await docker(['ps', '-q'])).stdout.trim().split('\n');
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}$/);
    const ports = (p: number, c: number) => `127.0.0.1:${p}->${c}/tcp`;
    const portsWidth = Math.max(ports(panelPort, 18080).length, ports(gatewayPort, 18789).length) + 3;
    const row = (cells: string[]) =>
      cells[0].padEnd(15) +
      cells[1].padEnd(PANEL_IMAGE.length + 3) +
      cells[2].padEnd(25) +
      cells[3].padEnd(15) +
      cells[4].padEnd(14) +
      cells[5].padEnd(portsWidth) +
      cells[6] +
      '\n';
    expect(plain.stdout).toBe(
      row(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']) +
        row([
          ids[0],
          PANEL_IMAGE,
          '"docker-entrypoint.s…"',
          '14 hours ago',
          'Up 14 hours',
          ports(panelPort, 18080),
          'openclaw-panel',
        ]) +
        row([
          ids[1],
          GATEWAY_IMAGE,
          '"docker-entrypoint.s…"',
          '14 hours ago',
          'Up 14 hours',
          ports(gatewayPort, 18789),
          'openclaw-gateway',
        ]),
    );
    expect((await docker(['ps', '--format', '{{.Names}} {{.State}}'])).stdout).toBe(
      'openclaw-panel running\nopenclaw-gateway running\n',
    );
  });

  it('boot brings back the containers whose state says Up', async () => {
    expect(await answers(gatewayPort)).toBe(0);
    const boot = await docker(['boot']);
    expect(boot.code).toBe(0);
    expect(await httpGet(gatewayPort)).toMatchObject({ status: 200, body: expect.stringContaining('<html') });
    expect(await httpGet(gatewayPort, '/health')).toEqual({ status: 200, body: '{"ok":true,"status":"live"}' });
    expect((await httpGet(panelPort)).status).toBe(200);
    const gw = container('openclaw-gateway');
    expect(standInAlive(gw)).toBe(true);
    expect(readProcName(gw.pid as number)).toBe('docker-proxy');

    // A reboot kills every process; boot starts them again and the status starts counting anew.
    for (const name of ['openclaw-gateway', 'openclaw-panel']) process.kill(container(name).pid as number, 'SIGKILL');
    await waitFor(
      'both ports to stop answering',
      async () => (await answers(gatewayPort)) === 0 && (await answers(panelPort)) === 0,
      10_000,
    );
    expect((await docker(['boot'])).code).toBe(0);
    expect(await answers(gatewayPort)).toBe(200);
    expect(await answers(panelPort)).toBe(200);
    expect((await docker(['ps', '--format', '{{.Status}}'])).stdout).toMatch(
      /^Up (Less than a second|\d+ seconds?)\nUp (Less than a second|\d+ seconds?)\n$/,
    );
    expect((await docker(['boot'])).stdout).toBe(''); // all up already: nothing to do
  });

  it('compose stop: progress on stderr, containers Exited (0), ports stop answering', async () => {
    const pids = ['openclaw-gateway', 'openclaw-panel'].map((n) => container(n).pid as number);
    const stop = await docker(['compose', 'stop']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe('');
    expect(stop.stderr).toBe(
      ' Container openclaw-panel  Stopping\n' +
        ' Container openclaw-panel  Stopped\n' +
        ' Container openclaw-gateway  Stopping\n' +
        ' Container openclaw-gateway  Stopped\n',
    );
    for (const pid of pids) expect(procStartTime(pid)).toBeNull();
    expect(await answers(gatewayPort)).toBe(0);
    expect(await answers(panelPort)).toBe(0);
    expect((await docker(['ps', '--format', 'table {{.Names}}\\t{{.Status}}'])).stdout).toBe('NAMES     STATUS\n');
    const all = (await docker(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Status}}'])).stdout.split('\n');
    expect(all[0]).toBe('NAMES              STATUS');
    expect(all[1]).toMatch(/^openclaw-panel {5}Exited \(0\) (Less than a second|\d+ seconds?) ago$/);
    expect(all[2]).toMatch(/^openclaw-gateway {3}Exited \(0\) (Less than a second|\d+ seconds?) ago$/);
    // Exited containers publish nothing: the PORTS cell is empty, the STATUS cell still padded.
    const withPorts = (await docker(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Status}}\\t{{.Ports}}'])).stdout;
    expect(withPorts.split('\n')[1]).toMatch(/^openclaw-panel {5}Exited \(0\) .* ago {3,}$/);
  });

  it('compose start: dependencies first, ports answer again', async () => {
    const start = await docker(['compose', 'start']);
    expect(start.code).toBe(0);
    expect(start.stderr).toBe(
      ' Container openclaw-gateway  Starting\n' +
        ' Container openclaw-gateway  Started\n' +
        ' Container openclaw-panel  Starting\n' +
        ' Container openclaw-panel  Started\n',
    );
    expect(await httpGet(gatewayPort, '/health')).toEqual({ status: 200, body: '{"ok":true,"status":"live"}' });
    expect(await answers(panelPort)).toBe(200);
    expect((await docker(['compose', 'start'])).stderr).toBe(''); // running containers are left alone
  });

  it('compose start fails as docker does when the host port is taken', async () => {
    await docker(['compose', 'stop']);
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(gatewayPort, '127.0.0.1', resolve));
    try {
      const start = await docker(['compose', 'start']);
      expect(start.code).toBe(1);
      expect(start.stderr).toContain(' Container openclaw-gateway  Error\n');
      expect(start.stderr).toMatch(
        new RegExp(
          `Error response from daemon: driver failed programming external connectivity on endpoint openclaw-gateway ` +
            `\\([0-9a-f]{12}\\): Error starting userland proxy: listen tcp4 127.0.0.1:${gatewayPort}: bind: address already in use`,
        ),
      );
      expect(container('openclaw-gateway').status).toBe('Exited');
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    expect((await docker(['compose', 'start'])).code).toBe(0);
    expect(await answers(gatewayPort)).toBe(200);
  });

  it('compose needs a compose file from the working directory up', async () => {
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const r = await docker(['compose', 'stop'], elsewhere);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'no configuration file provided: not found\n' });
    const sub = join(composeDir, 'sub');
    mkdirSync(sub, { recursive: true });
    expect((await docker(['compose', 'ps', '--format', '{{.Name}}'], sub)).stdout).toBe(
      'openclaw-gateway\nopenclaw-panel\n',
    );
  });

  it('compose down removes containers and network; start then fails; prune reclaims the images', async () => {
    const down = await docker(['compose', 'down', '--remove-orphans']);
    expect(down.code).toBe(0);
    expect(down.stderr).toBe(
      [
        ' Container openclaw-panel  Stopping',
        ' Container openclaw-panel  Stopped',
        ' Container openclaw-panel  Removing',
        ' Container openclaw-panel  Removed',
        ' Container openclaw-gateway  Stopping',
        ' Container openclaw-gateway  Stopped',
        ' Container openclaw-gateway  Removing',
        ' Container openclaw-gateway  Removed',
        ' Network openclaw_default  Removing',
        ' Network openclaw_default  Removed',
        '',
      ].join('\n'),
    );
    expect(await answers(gatewayPort)).toBe(0);
    expect(await answers(panelPort)).toBe(0);
    expect((await docker(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Status}}'])).stdout).toBe(
      'NAMES     STATUS\n',
    );

    const start = await docker(['compose', 'start']);
    expect(start).toEqual({ code: 1, stdout: '', stderr: 'service "openclaw-gateway" has no container to start\n' });
    expect((await docker(['compose', 'down'])).stderr).toBe(
      'Warning: No resource found to remove for project "openclaw".\n',
    );

    const images = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}'])).stdout;
    expect(images).toBe(`${PANEL_IMAGE} 312MB\n${GATEWAY_IMAGE} 1.84GB\n`);
    const ids = readState(root).images.map((i) => i.id);
    const prune = await docker(['image', 'prune', '-f']);
    expect(prune.code).toBe(0);
    expect(prune.stdout).toBe(
      'Deleted Images:\n' +
        `untagged: ${GATEWAY_IMAGE}\ndeleted: ${ids[0]}\n` +
        `untagged: ${PANEL_IMAGE}\ndeleted: ${ids[1]}\n` +
        '\nTotal reclaimed space: 2.156GB\n',
    );
    expect((await docker(['image', 'prune', '-f'])).stdout).toBe('Total reclaimed space: 0B\n');
    expect((await docker(['images'])).stdout).toBe('REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
  });
});

function readProcName(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}
