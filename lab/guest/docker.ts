/**
 * The lab's `docker`: the part of the Docker CLI (27.x) and Compose v2 (2.32) that the SOP and a person
 * poking around a Docker-era OpenClaw VM use, over a small state file instead of a daemon.
 *
 *     node docker.js ps [-a] [-q] [--format …] [--filter name=…|status=…] [--no-trunc]
 *     node docker.js images [-q] | image ls | image prune [-f] [-a]
 *     node docker.js compose [-f file] [-p name] stop|start|down [--remove-orphans]|up -d|ps [-a]|version
 *     node docker.js start|stop <container>…      node docker.js logs <container>
 *     node docker.js --version | version
 *     node docker.js boot        (lab only: what dockerd does at boot — restart the containers that were Up)
 *
 * State lives under the root prefix `LAB_ROOT` (default `/`):
 * - `/var/lib/docker/lab-state.json`: containers (name, image, status Created/Up/Exited/removed, created/started/
 *   finished times, published ports, pid of the stand-in process), images, networks.
 * - `/var/lib/docker/containers/<id>/<id>-json.log`: the stand-in's output (plain lines, not docker's JSON).
 * The compose project is the compose file found from the working directory upwards (compose.yaml, compose.yml,
 * docker-compose.yml, docker-compose.yaml), as compose-go does; its services are matched to containers by the
 * project name (top-level `name:` or the directory's name) and service name.
 *
 * While a container is Up, a stand-in process (container.ts, next to this file as container.js once bundled, or
 * `LAB_CONTAINER_JS`) listens on its published host ports; it is started detached in its own session with its
 * output in the container's log file, so it outlives this command and holds none of its pipes. Stopping kills it
 * (SIGTERM, then SIGKILL after 10 s) and waits until it is gone, so the ports stop answering.
 *
 * Output copies the real tools: `--format` templates with `table` rendered through a port of docker's tabwriter
 * (minwidth 10, padding 3), Status strings from moby's State.String() with go-units' HumanDuration, sizes from
 * go-units' HumanSize, compose's plain progress lines (` Container openclaw-gateway  Stopping`) on stderr.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withPidLock } from '../shared/pid-lock';

// ---------------------------------------------------------------------------------------------------------------
// State

export interface PortBinding {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  proto: 'tcp' | 'udp';
}

export type ContainerStatus = 'Created' | 'Up' | 'Exited' | 'removed';

export interface ContainerRecord {
  id: string;
  name: string;
  /** Compose project and service this container belongs to. */
  project: string;
  service: string;
  image: string;
  command: string;
  /** What the stand-in serves: `gateway` or `panel`. */
  role: 'gateway' | 'panel';
  status: ContainerStatus;
  exitCode: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  removedAt?: string | null;
  ports: PortBinding[];
  mounts?: string[];
  networks?: string[];
  /** The stand-in process while Up, and its start time (field 22 of /proc/<pid>/stat) to tell it from a reused pid. */
  pid: number | null;
  pidStart: string | null;
}

export interface ImageRecord {
  /** `sha256:<64 hex>` */
  id: string;
  repoTags: string[];
  sizeBytes: number;
  createdAt: string;
}

export interface DockerState {
  version: 1;
  networks: string[];
  images: ImageRecord[];
  containers: ContainerRecord[];
}

export const STATE_FILE = '/var/lib/docker/lab-state.json';
export const COMPOSE_DIR = '/opt/openclaw';
const COMPOSE_FILE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

export function labRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.LAB_ROOT && env.LAB_ROOT !== '' ? env.LAB_ROOT : '/';
}

const statePath = (root: string) => join(root, STATE_FILE);

export function readState(root: string): DockerState {
  const p = statePath(root);
  if (!existsSync(p)) return { version: 1, networks: [], images: [], containers: [] };
  const s = JSON.parse(readFileSync(p, 'utf8')) as Partial<DockerState>;
  return { version: 1, networks: s.networks ?? [], images: s.images ?? [], containers: s.containers ?? [] };
}

export function writeState(root: string, state: DockerState): void {
  const p = statePath(root);
  mkdirSync(dirname(p), { recursive: true });
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, p);
}

/** One docker command at a time changes the state (dockerd serialises them too). */
async function withStateLock<T>(root: string, fn: (state: DockerState) => Promise<T> | T): Promise<T> {
  const lock = statePath(root) + '.lock';
  mkdirSync(dirname(lock), { recursive: true });
  const waiting = (holder: number, waitedMs: number) => {
    if (waitedMs > 60_000) throw new Error(`state is locked by pid ${holder} (${lock})`);
  };
  return withPidLock(lock, { pollMs: 50, waiting }, async () => {
    const state = readState(root);
    const result = await fn(state);
    writeState(root, state);
    return result;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Compose files: a YAML subset (block mappings and sequences, flow sequences of scalars, quoted scalars, comments)

type Yaml = string | Yaml[] | { [k: string]: Yaml };

function yamlScalar(raw: string): string {
  const s = raw.trim();
  if (s.length >= 2 && ((s[0] === '"' && s.endsWith('"')) || (s[0] === "'" && s.endsWith("'")))) {
    const inner = s.slice(1, -1);
    return s[0] === '"' ? inner.replace(/\\(["\\])/g, '$1') : inner.replace(/''/g, "'");
  }
  return s;
}

function yamlValue(raw: string): Yaml {
  const s = raw.trim();
  if (s.startsWith('[') && s.endsWith(']')) {
    const inner = s.slice(1, -1).trim();
    return inner === '' ? [] : inner.split(',').map(yamlScalar);
  }
  if (s === '{}') return {};
  return yamlScalar(s);
}

function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

export function parseYaml(text: string): Yaml {
  const lines = text
    .split(/\r?\n/)
    .map(stripComment)
    .filter((l) => l.trim() !== '' && l.trim() !== '---')
    .map((l) => ({ indent: l.length - l.trimStart().length, text: l.trim() }));
  let i = 0;
  const block = (indent: number): Yaml => {
    if (i >= lines.length) return '';
    if (lines[i].text.startsWith('- ') || lines[i].text === '-') {
      const list: Yaml[] = [];
      while (
        i < lines.length &&
        lines[i].indent === indent &&
        (lines[i].text.startsWith('- ') || lines[i].text === '-')
      ) {
        const item = lines[i].text.slice(1).trim();
        const kv = /^([^:"'[{]+?):(?:\s+(.*))?$/.exec(item);
        if (kv) {
          // a mapping inside a list item: its keys are indented like the text after "- "
          lines[i] = { indent: indent + 2, text: item };
          list.push(block(indent + 2));
        } else {
          i++;
          list.push(item === '' ? block(lines[i]?.indent ?? indent + 2) : yamlValue(item));
        }
      }
      return list;
    }
    const map: { [k: string]: Yaml } = {};
    while (i < lines.length && lines[i].indent === indent) {
      const m = /^("[^"]*"|'[^']*'|[^:]+?):(?:\s+(.*))?$/.exec(lines[i].text);
      if (!m) throw new Error(`yaml: line not understood: ${lines[i].text}`);
      i++;
      const key = yamlScalar(m[1]);
      if (m[2] !== undefined && m[2].trim() !== '') map[key] = yamlValue(m[2]);
      else if (i < lines.length && lines[i].indent > indent) map[key] = block(lines[i].indent);
      else if (i < lines.length && lines[i].indent === indent && lines[i].text.startsWith('- '))
        map[key] = block(indent);
      else map[key] = '';
    }
    return map;
  };
  return lines.length === 0 ? {} : block(lines[0].indent);
}

export interface ComposeService {
  name: string;
  containerName: string;
  image: string;
  dependsOn: string[];
  ports: PortBinding[];
  /** Host sides of the volumes (bind mounts and named volumes). */
  volumes: string[];
}

export interface ComposeProject {
  name: string;
  file: string;
  workingDir: string;
  services: ComposeService[];
}

const asMap = (y: Yaml | undefined): { [k: string]: Yaml } =>
  y && typeof y === 'object' && !Array.isArray(y) ? y : {};
const asList = (y: Yaml | undefined): Yaml[] => (Array.isArray(y) ? y : []);

/** `"127.0.0.1:28789:18789"`, `"28789:18789/tcp"`, `"18789"` → a binding (host port 0 when only exposed). */
export function parsePortSpec(spec: string): PortBinding {
  const [main, proto = 'tcp'] = spec.split('/');
  const parts = main.split(':');
  const containerPort = Number(parts.pop());
  const hostPort = parts.length > 0 ? Number(parts.pop()) : 0;
  const hostIp = parts.length > 0 ? parts.join(':').replace(/^\[(.*)\]$/, '$1') : '0.0.0.0';
  return { hostIp, hostPort, containerPort, proto: proto === 'udp' ? 'udp' : 'tcp' };
}

export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

export function loadComposeProject(file: string, projectName?: string): ComposeProject {
  const doc = asMap(parseYaml(readFileSync(file, 'utf8')));
  const workingDir = dirname(file);
  const name = normalizeProjectName(
    projectName ?? process.env.COMPOSE_PROJECT_NAME ?? (typeof doc.name === 'string' ? doc.name : basename(workingDir)),
  );
  const services: ComposeService[] = [];
  for (const [svc, body] of Object.entries(asMap(doc.services))) {
    const b = asMap(body);
    const deps = b.depends_on;
    services.push({
      name: svc,
      containerName: typeof b.container_name === 'string' && b.container_name ? b.container_name : `${name}-${svc}-1`,
      image: typeof b.image === 'string' ? b.image : `${name}-${svc}`,
      dependsOn: Array.isArray(deps) ? deps.map(String) : Object.keys(asMap(deps)),
      ports: asList(b.ports).map((p) => parsePortSpec(typeof p === 'string' ? p : String(asMap(p).published ?? ''))),
      volumes: asList(b.volumes).map((v) => (typeof v === 'string' ? v.split(':')[0] : String(asMap(v).source ?? ''))),
    });
  }
  return { name, file, workingDir, services };
}

/** compose-go's lookup: the first directory from `dir` upwards that holds one of the default file names. */
export function findComposeFile(dir: string): string | undefined {
  let d = resolve(dir);
  for (;;) {
    for (const n of COMPOSE_FILE_NAMES) {
      const f = join(d, n);
      if (existsSync(f) && statSync(f).isFile()) return f;
    }
    const parent = dirname(d);
    if (parent === d) return undefined;
    d = parent;
  }
}

/** Services with their dependencies first; otherwise in file order. */
function dependencyOrder(services: ComposeService[]): ComposeService[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: ComposeService[] = [];
  const visit = (s: ComposeService, seen: Set<string>) => {
    if (done.has(s.name) || seen.has(s.name)) return;
    seen.add(s.name);
    for (const d of s.dependsOn) {
      const dep = byName.get(d);
      if (dep) visit(dep, seen);
    }
    done.add(s.name);
    out.push(s);
  };
  for (const s of services) visit(s, new Set());
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting, as docker does it

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(Math.floor(ms / 3_600_000) / 24 / 365)} years`;
}

/** go-units HumanSizeWithPrecision (decimal units, `%.*g`). */
export function humanSize(bytes: number, precision = 4): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(precision))}${units[i]}`;
}

const textWidth = (s: string) => [...s].length;

/** docker's tabwriter (Go text/tabwriter, elastic tabstops) with `NewWriter(out, minwidth, 1, padding, ' ', 0)`. */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];
  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i];
      line.forEach((cell, j) => {
        out.push(cell);
        if (j < widths.length) out.push(' '.repeat(Math.max(0, widths[j] - textWidth(cell))));
      });
      if (i + 1 < lines.length) out.push('\n');
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t].length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = minwidth;
      for (; t < line1; t++) {
        const line = lines[t];
        if (column >= line.length - 1) break;
        width = Math.max(width, textWidth(line[column]) + padding);
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join('');
}

/** docker's formatter.Ellipsis. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return chars.slice(0, max - 1).join('') + '…';
}

const truncateId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** Go's time.Time.String() for a UTC time, seconds resolution. */
function goTime(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`
  );
}

type Row = Record<string, string> & { __json?: string };

/**
 * A Go-template subset: `{{.Field}}`, `{{.Label "key"}}`, `{{json .}}`; `table` prefix → header row and tabwriter;
 * `\t` and `\n` escapes as docker's preFormat replaces them.
 */
export function renderFormat(format: string, headers: Record<string, string>, rows: Row[]): string {
  const isTable = format.startsWith('table');
  let tmpl = format === 'json' ? '{{json .}}' : isTable ? format.slice('table'.length) : format;
  tmpl = tmpl
    .replace(/^ +| +$/g, '')
    .replace(/\\t/g, '\t')
    .replace(/\\n/g, '\n');
  const apply = (row: Row, header: boolean) =>
    tmpl.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_all, expr: string) => {
      if (/^json\s+\.$/.test(expr)) return header ? '' : (row.__json ?? '{}');
      const label = /^\.Label\s+"([^"]*)"$/.exec(expr);
      if (label) return header ? 'LABEL' : (row[`label:${label[1]}`] ?? '');
      const field = /^\.([A-Za-z]+)$/.exec(expr);
      if (!field || !(field[1] in headers)) {
        throw new Error(`template parsing error: template: :1: function or field "${expr}" not defined`);
      }
      return header ? headers[field[1]] : (row[field[1]] ?? '');
    });
  const body = rows.map((r) => apply(r, false) + '\n').join('');
  if (!isTable) return body;
  return tabwrite(apply({} as Row, true) + '\n' + body);
}

// ---------------------------------------------------------------------------------------------------------------
// Containers as docker shows them

export function statusString(c: ContainerRecord, now = Date.now()): string {
  if (c.status === 'Up' && c.startedAt) return `Up ${humanDuration(now - Date.parse(c.startedAt))}`;
  if (!c.startedAt) return 'Created';
  if (!c.finishedAt) return '';
  return `Exited (${c.exitCode}) ${humanDuration(now - Date.parse(c.finishedAt))} ago`;
}

const stateString = (c: ContainerRecord) =>
  c.status === 'Up' ? 'running' : c.status === 'Created' || !c.startedAt ? 'created' : 'exited';

/** docker's DisplayablePorts for the published bindings of a running container. */
export function displayPorts(c: ContainerRecord): string {
  if (c.status !== 'Up') return '';
  const sorted = [...c.ports].sort((a, b) => a.containerPort - b.containerPort || a.hostPort - b.hostPort);
  const exposed = sorted.filter((p) => !p.hostPort).map((p) => `${p.containerPort}/${p.proto}`);
  const mapped = sorted
    .filter((p) => p.hostPort)
    .map((p) => `${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:${p.hostPort}->${p.containerPort}/${p.proto}`);
  return [...exposed, ...mapped].join(', ');
}

const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  // docker compose ps
  Name: 'NAME',
  Service: 'SERVICE',
};

function labels(c: ContainerRecord): Record<string, string> {
  return {
    'com.docker.compose.container-number': '1',
    'com.docker.compose.oneoff': 'False',
    'com.docker.compose.project': c.project,
    'com.docker.compose.project.config_files': join(COMPOSE_DIR, 'docker-compose.yml'),
    'com.docker.compose.project.working_dir': COMPOSE_DIR,
    'com.docker.compose.service': c.service,
  };
}

function containerRow(c: ContainerRecord, trunc: boolean, now: number): Row {
  const l = labels(c);
  const row: Row = {
    ID: trunc ? truncateId(c.id) : c.id,
    Names: c.name,
    Name: c.name,
    Service: c.service,
    Image: c.image,
    Command: JSON.stringify(trunc ? ellipsis(c.command, 20) : c.command),
    CreatedAt: goTime(c.createdAt),
    RunningFor: `${humanDuration(now - Date.parse(c.createdAt))} ago`,
    Ports: displayPorts(c),
    State: stateString(c),
    Status: statusString(c, now),
    Size: '0B',
    Labels: Object.entries(l)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    Mounts: (c.mounts ?? []).map((m) => (trunc ? ellipsis(m, 15) : m)).join(','),
    LocalVolumes: '0',
    Networks: (c.networks ?? [`${c.project}_default`]).join(','),
  };
  for (const [k, v] of Object.entries(l)) row[`label:${k}`] = v;
  row.__json = JSON.stringify({
    Command: row.Command,
    CreatedAt: row.CreatedAt,
    ID: row.ID,
    Image: row.Image,
    Labels: row.Labels,
    LocalVolumes: row.LocalVolumes,
    Mounts: row.Mounts,
    Names: row.Names,
    Networks: row.Networks,
    Ports: row.Ports,
    RunningFor: row.RunningFor,
    Size: row.Size,
    State: row.State,
    Status: row.Status,
  });
  return row;
}

const liveContainers = (s: DockerState) => s.containers.filter((c) => c.status !== 'removed');
const newestFirst = (a: ContainerRecord, b: ContainerRecord) => Date.parse(b.createdAt) - Date.parse(a.createdAt);

// ---------------------------------------------------------------------------------------------------------------
// Stand-in processes

/** Field 22 (starttime) of /proc/<pid>/stat, or null when the process is gone or a zombie. */
export function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return null;
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export function standInAlive(c: ContainerRecord): boolean {
  return c.pid !== null && c.pidStart !== null && procStartTime(c.pid) === c.pidStart;
}

function containerScript(): string {
  return process.env.LAB_CONTAINER_JS || join(__dirname, 'container.js');
}

class DaemonError extends Error {}

/**
 * Starts the stand-in and waits until it says (on a pipe of its own, fd 3) that every published port listens.
 * A connect test would not do: whoever else holds the port would answer it.
 */
async function startStandIn(root: string, c: ContainerRecord): Promise<void> {
  const logDir = join(root, 'var/lib/docker/containers', c.id);
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, `${c.id}-json.log`), 'a');
  const published = c.ports.filter((p) => p.hostPort);
  const args = [containerScript(), '--name', c.name, '--role', c.role];
  for (const p of published) args.push('--listen', `${p.hostIp}:${p.hostPort}`);
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', log, log, 'pipe'],
    cwd: '/',
    env: { ...process.env, LAB_READY_FD: '3' },
  });
  closeSync(log);
  const readyPipe = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  const outcome = await new Promise<{ ready: true } | { ready: false; code: number }>((resolvePromise) => {
    let said = '';
    const timer = setTimeout(() => resolvePromise({ ready: false, code: -1 }), 15_000);
    const settle = (v: { ready: true } | { ready: false; code: number }) => {
      clearTimeout(timer);
      resolvePromise(v);
    };
    readyPipe.on('data', (d: Buffer) => {
      said += d.toString('utf8');
      if (said.includes('ready\n')) settle({ ready: true });
    });
    readyPipe.on('error', () => undefined);
    child.on('exit', (code, signal) => settle({ ready: false, code: code ?? (signal ? 128 : 1) }));
    child.on('error', () => settle({ ready: false, code: 127 }));
  });
  readyPipe.destroy();
  child.removeAllListeners('exit');
  child.unref();
  const pid = child.pid;
  const start = outcome.ready && pid !== undefined ? procStartTime(pid) : null;
  if (outcome.ready && pid !== undefined && start !== null) {
    c.pid = pid;
    c.pidStart = start;
    return;
  }
  if (pid !== undefined) killQuietly(pid, 'SIGKILL');
  const p = published[0];
  const shortId = c.id.slice(0, 12);
  const code = outcome.ready ? 1 : outcome.code;
  throw new DaemonError(
    code === 98 && p
      ? `Error response from daemon: driver failed programming external connectivity on endpoint ${c.name} ` +
          `(${shortId}): Error starting userland proxy: listen tcp4 ${p.hostIp}:${p.hostPort}: bind: address already in use`
      : code === -1
        ? `Error response from daemon: container ${c.name} did not come up within 15s`
        : `Error response from daemon: failed to start container ${shortId}: stand-in exited with code ${code}`,
  );
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after `timeoutMs` (docker stop's default 10 s); returns when the process is gone. */
async function stopStandIn(c: ContainerRecord, timeoutMs = 10_000): Promise<number> {
  let exitCode = 0;
  if (c.pid !== null && standInAlive(c)) {
    const pid = c.pid;
    const start = c.pidStart;
    killQuietly(pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (procStartTime(pid) === start) {
      if (Date.now() > deadline) {
        killQuietly(pid, 'SIGKILL');
        exitCode = 137;
      }
      await sleep(20);
    }
  }
  c.pid = null;
  c.pidStart = null;
  return exitCode;
}

async function startContainer(root: string, c: ContainerRecord): Promise<void> {
  try {
    await startStandIn(root, c);
  } catch (err) {
    c.status = 'Exited';
    c.exitCode = 128;
    c.startedAt = c.startedAt ?? new Date().toISOString();
    c.finishedAt = new Date().toISOString();
    throw err;
  }
  c.status = 'Up';
  c.startedAt = new Date().toISOString();
  c.exitCode = 0;
}

async function stopContainer(c: ContainerRecord): Promise<void> {
  if (c.status !== 'Up') return;
  c.exitCode = await stopStandIn(c);
  c.status = 'Exited';
  c.finishedAt = new Date().toISOString();
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  cwd: string;
  root: string;
  readLine?: () => Promise<string | null>;
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly code = 125,
  ) {
    super(message);
  }
}

/** Splits `-aq` into `-a -q` and `--format=x` into `--format x`; returns flags and positional arguments. */
function parseFlags(
  args: string[],
  spec: { bool: string[]; value: string[] },
  cmd: string,
): { flags: Map<string, string[]>; rest: string[] } {
  const flags = new Map<string, string[]>();
  const rest: string[] = [];
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      if (spec.bool.includes(k)) add(k, inline ?? 'true');
      else if (spec.value.includes(k)) {
        const v = inline ?? args[++i];
        if (v === undefined) throw new UsageError(`flag needs an argument: ${k}\nSee 'docker ${cmd} --help'.`);
        add(k, v);
      } else throw new UsageError(`unknown flag: ${k}\nSee 'docker ${cmd} --help'.`);
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const k = `-${a[j]}`;
        if (spec.bool.includes(k)) add(k, 'true');
        else if (spec.value.includes(k)) {
          const v = j + 1 < a.length ? a.slice(j + 1) : args[++i];
          if (v === undefined)
            throw new UsageError(`flag needs an argument: '${a[j]}' in ${k}\nSee 'docker ${cmd} --help'.`);
          add(k, v);
          break;
        } else throw new UsageError(`unknown shorthand flag: '${a[j]}' in ${a}\nSee 'docker ${cmd} --help'.`);
      }
    } else rest.push(a);
  }
  return { flags, rest };
}

const has = (flags: Map<string, string[]>, ...names: string[]) => names.some((n) => flags.has(n));
const last = (flags: Map<string, string[]>, ...names: string[]) => {
  const vals = names.flatMap((n) => flags.get(n) ?? []);
  return vals.length ? vals[vals.length - 1] : undefined;
};

function cmdPs(io: Io, args: string[]): number {
  const { flags } = parseFlags(
    args,
    {
      bool: ['-a', '--all', '-q', '--quiet', '--no-trunc', '-s', '--size', '-l', '--latest'],
      value: ['--format', '-f', '--filter', '-n', '--last'],
    },
    'ps',
  );
  const state = readState(io.root);
  const now = Date.now();
  const filters = [...(flags.get('-f') ?? []), ...(flags.get('--filter') ?? [])];
  // as in the daemon, a status filter looks at every container, not just the running ones
  const all = has(flags, '-a', '--all') || filters.some((f) => f.startsWith('status='));
  let list = liveContainers(state)
    .filter((c) => all || c.status === 'Up')
    .sort(newestFirst);
  for (const f of filters) {
    const [k, v = ''] = f.split('=');
    if (k === 'name') list = list.filter((c) => new RegExp(v).test(c.name));
    else if (k === 'status') list = list.filter((c) => stateString(c) === v);
    else if (k === 'id') list = list.filter((c) => c.id.startsWith(v));
    else if (k === 'label') {
      const [lk, lv] = v.split('=');
      list = list.filter((c) => labels(c)[lk] !== undefined && (lv === undefined || labels(c)[lk] === lv));
    } else throw new UsageError(`Error response from daemon: invalid filter '${k}'`, 1);
  }
  if (has(flags, '-l', '--latest')) list = list.slice(0, 1);
  const n = last(flags, '-n', '--last');
  if (n !== undefined && Number(n) >= 0) list = list.slice(0, Number(n));
  const trunc = !has(flags, '--no-trunc');
  const quiet = has(flags, '-q', '--quiet');
  const given = last(flags, '--format');
  let format = given ?? '';
  if (quiet) format = '{{.ID}}';
  else if (format === '' || format === 'table') {
    format = 'table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}';
    if (has(flags, '-s', '--size')) format += '\\t{{.Size}}';
  }
  io.out(
    renderFormat(
      format,
      CONTAINER_HEADERS,
      list.map((c) => containerRow(c, trunc, now)),
    ),
  );
  return 0;
}

const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
};

function cmdImages(io: Io, args: string[]): number {
  const { flags } = parseFlags(
    args,
    { bool: ['-a', '--all', '-q', '--quiet', '--no-trunc', '--digests'], value: ['--format', '-f', '--filter'] },
    'images',
  );
  const state = readState(io.root);
  const now = Date.now();
  const trunc = !has(flags, '--no-trunc');
  const rows: Row[] = [];
  for (const img of [...state.images].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))) {
    const tags = img.repoTags.length ? img.repoTags : ['<none>:<none>'];
    for (const rt of tags) {
      const idx = rt.lastIndexOf(':');
      rows.push({
        ID: trunc ? truncateId(img.id) : img.id,
        Repository: rt.slice(0, idx),
        Tag: rt.slice(idx + 1),
        Digest: '<none>',
        CreatedSince: `${humanDuration(now - Date.parse(img.createdAt))} ago`,
        CreatedAt: goTime(img.createdAt),
        Size: humanSize(img.sizeBytes, 3),
      });
    }
  }
  let format = last(flags, '--format') ?? '';
  if (has(flags, '-q', '--quiet')) {
    format = '{{.ID}}';
    const seen = new Set<string>();
    const unique = rows.filter((r) => !seen.has(r.ID) && seen.add(r.ID));
    io.out(renderFormat(format, IMAGE_HEADERS, unique));
    return 0;
  }
  if (format === '' || format === 'table')
    format = 'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}';
  io.out(renderFormat(format, IMAGE_HEADERS, rows));
  return 0;
}

/**
 * `docker image prune`. Simplified on purpose: the real one (without -a) removes only dangling (untagged) images;
 * here every image that no container (of any status but removed) uses is pruned, tagged or not — which is what an
 * operator running §6 expects to happen to the old OpenClaw images after `compose down`.
 */
async function cmdImagePrune(io: Io, args: string[]): Promise<number> {
  const { flags } = parseFlags(args, { bool: ['-f', '--force', '-a', '--all'], value: ['--filter'] }, 'image prune');
  if (!has(flags, '-f', '--force')) {
    const warning = has(flags, '-a', '--all')
      ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?'
      : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
    io.out(`${warning} [y/N] `);
    const answer = io.readLine ? await io.readLine() : null;
    if (answer === null || !/^y(es)?$/i.test(answer.trim())) {
      if (answer === null) io.out('\n');
      io.err('Error: image prune has been cancelled\n');
      return 1;
    }
  }
  const { deleted, reclaimed } = await withStateLock(io.root, (state) => {
    const used = new Set(liveContainers(state).map((c) => c.image));
    const keep: ImageRecord[] = [];
    const lines: string[] = [];
    let bytes = 0;
    for (const img of state.images) {
      if (img.repoTags.some((t) => used.has(t)) || used.has(img.id)) {
        keep.push(img);
        continue;
      }
      for (const t of img.repoTags) lines.push(`untagged: ${t}`);
      lines.push(`deleted: ${img.id}`);
      bytes += img.sizeBytes;
    }
    state.images = keep;
    return { deleted: lines, reclaimed: bytes };
  });
  if (deleted.length) io.out(`Deleted Images:\n${deleted.join('\n')}\n\n`);
  io.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
}

function findContainer(state: DockerState, ref: string): ContainerRecord | undefined {
  const live = liveContainers(state);
  return (
    live.find((c) => c.name === ref || c.name === ref.replace(/^\//, '') || c.id === ref) ??
    live.find((c) => ref.length >= 3 && c.id.startsWith(ref))
  );
}

async function cmdStartStop(io: Io, verb: 'start' | 'stop', args: string[]): Promise<number> {
  const { rest } = parseFlags(
    args,
    { bool: ['-a', '--attach', '-i', '--interactive'], value: ['-t', '--time', '-s', '--signal'] },
    verb,
  );
  if (rest.length === 0)
    throw new UsageError(`"docker ${verb}" requires at least 1 argument.\nSee 'docker ${verb} --help'.`, 1);
  let rc = 0;
  await withStateLock(io.root, async (state) => {
    for (const ref of rest) {
      const c = findContainer(state, ref);
      if (!c) {
        io.err(`Error response from daemon: No such container: ${ref}\n`);
        rc = 1;
        continue;
      }
      try {
        if (verb === 'stop') await stopContainer(c);
        else if (c.status !== 'Up') await startContainer(io.root, c);
        io.out(`${ref}\n`);
      } catch (err) {
        io.err(`${(err as Error).message}\n`);
        rc = 1;
      }
    }
  });
  if (verb === 'start' && rc !== 0) io.err('Error: failed to start containers: ' + rest.join(', ') + '\n');
  return rc;
}

function cmdLogs(io: Io, args: string[]): number {
  const { rest } = parseFlags(
    args,
    { bool: ['-f', '--follow', '-t', '--timestamps'], value: ['-n', '--tail', '--since'] },
    'logs',
  );
  const c = rest[0] ? findContainer(readState(io.root), rest[0]) : undefined;
  if (!c) {
    io.err(`Error response from daemon: No such container: ${rest[0] ?? ''}\n`);
    return 1;
  }
  const f = join(io.root, 'var/lib/docker/containers', c.id, `${c.id}-json.log`);
  if (existsSync(f)) io.out(readFileSync(f, 'utf8'));
  return 0;
}

// --- compose -----------------------------------------------------------------------------------------------------

const roleOf = (service: string): 'gateway' | 'panel' => (service.includes('panel') ? 'panel' : 'gateway');
const commandOf = (role: 'gateway' | 'panel') =>
  role === 'gateway'
    ? 'docker-entrypoint.sh node openclaw.mjs gateway --bind lan --port 18789 --allow-unconfigured'
    : 'docker-entrypoint.sh node src/server.js';

const progress = (io: Io, id: string, text: string) => io.err(` ${id}  ${text}\n`);
const cName = (c: ContainerRecord) => `Container ${c.name}`;

/** The record of a compose service's container, as compose creates it (Created) or as the seed leaves it (Up). */
function serviceContainer(
  project: ComposeProject,
  s: ComposeService,
  network: string,
  status: 'Created' | 'Up',
  createdAt: string,
  startedAt: string | null,
): ContainerRecord {
  const role = roleOf(s.name);
  return {
    id: randomBytes(32).toString('hex'),
    name: s.containerName,
    project: project.name,
    service: s.name,
    image: s.image,
    command: commandOf(role),
    role,
    status,
    exitCode: 0,
    createdAt,
    startedAt,
    finishedAt: null,
    ports: s.ports,
    mounts: s.volumes,
    networks: [network],
    pid: null,
    pidStart: null,
  };
}

/** Stops one container with compose's progress lines. */
async function composeStopContainer(io: Io, c: ContainerRecord): Promise<void> {
  progress(io, cName(c), 'Stopping');
  await stopContainer(c);
  progress(io, cName(c), 'Stopped');
}

/** Starts one container with compose's progress lines; on failure, the daemon's error on stderr and false. */
async function composeStartContainer(io: Io, c: ContainerRecord): Promise<boolean> {
  progress(io, cName(c), 'Starting');
  try {
    await startContainer(io.root, c);
  } catch (err) {
    progress(io, cName(c), 'Error');
    io.err(`${(err as Error).message}\n`);
    return false;
  }
  progress(io, cName(c), 'Started');
  return true;
}

function projectContainers(state: DockerState, project: ComposeProject): ContainerRecord[] {
  return liveContainers(state).filter((c) => c.project === project.name);
}

function serviceContainers(state: DockerState, project: ComposeProject, svc: string): ContainerRecord[] {
  return projectContainers(state, project).filter((c) => c.service === svc);
}

function selectServices(project: ComposeProject, names: string[]): ComposeService[] {
  for (const n of names) {
    if (!project.services.some((s) => s.name === n)) throw new UsageError(`no such service: ${n}`, 1);
  }
  const ordered = dependencyOrder(project.services);
  return names.length ? ordered.filter((s) => names.includes(s.name)) : ordered;
}

async function composeStop(io: Io, project: ComposeProject, names: string[]): Promise<number> {
  const services = selectServices(project, names).reverse();
  await withStateLock(io.root, async (state) => {
    for (const s of services) {
      for (const c of serviceContainers(state, project, s.name)) await composeStopContainer(io, c);
    }
  });
  return 0;
}

async function composeStart(io: Io, project: ComposeProject, names: string[]): Promise<number> {
  const services = selectServices(project, names);
  return withStateLock(io.root, async (state) => {
    for (const s of services) {
      const containers = serviceContainers(state, project, s.name);
      if (containers.length === 0) {
        io.err(`service "${s.name}" has no container to start\n`);
        return 1;
      }
      for (const c of containers) {
        if (c.status === 'Up') continue;
        if (!(await composeStartContainer(io, c))) return 1;
      }
    }
    return 0;
  });
}

async function composeDown(io: Io, project: ComposeProject, removeOrphans: boolean): Promise<number> {
  const network = `${project.name}_default`;
  await withStateLock(io.root, async (state) => {
    const ordered = dependencyOrder(project.services).reverse();
    const ours = projectContainers(state, project);
    const orphans = ours.filter((c) => !project.services.some((s) => s.name === c.service));
    const targets = [
      ...(removeOrphans ? orphans : []),
      ...ordered.flatMap((s) => ours.filter((c) => c.service === s.name)),
    ];
    if (!removeOrphans && orphans.length) {
      io.err(
        `time="${new Date().toISOString()}" level=warning msg="Found orphan containers ([${orphans.map((o) => o.name).join(' ')}]) ` +
          `for this project. If you removed or renamed this service in your compose file, you can run this command with ` +
          `the --remove-orphans flag to clean it up."\n`,
      );
    }
    const hasNetwork = state.networks.includes(network);
    if (targets.length === 0 && !hasNetwork) {
      io.err(`Warning: No resource found to remove for project "${project.name}".\n`);
      return;
    }
    for (const c of targets) {
      await composeStopContainer(io, c);
      progress(io, cName(c), 'Removing');
      c.status = 'removed';
      c.removedAt = new Date().toISOString();
      progress(io, cName(c), 'Removed');
    }
    if (hasNetwork) {
      progress(io, `Network ${network}`, 'Removing');
      if (!removeOrphans && orphans.length) progress(io, `Network ${network}`, 'Resource is still in use');
      else {
        state.networks = state.networks.filter((n) => n !== network);
        progress(io, `Network ${network}`, 'Removed');
      }
    }
  });
  return 0;
}

async function composeUp(io: Io, project: ComposeProject, names: string[]): Promise<number> {
  const services = selectServices(project, names);
  const network = `${project.name}_default`;
  return withStateLock(io.root, async (state) => {
    for (const s of services) {
      if (serviceContainers(state, project, s.name).length) continue;
      if (!state.images.some((i) => i.repoTags.includes(s.image))) {
        const registry =
          s.image.includes('/') && s.image.split('/')[0].includes('.') ? s.image.split('/')[0] : 'registry-1.docker.io';
        io.err(` ${s.name} Pulling \n ${s.name} Error \n`);
        io.err(
          `Error response from daemon: Get "https://${registry}/v2/": dial tcp: lookup ${registry}: no such host\n`,
        );
        return 1;
      }
    }
    if (!state.networks.includes(network)) {
      progress(io, `Network ${network}`, 'Creating');
      state.networks.push(network);
      progress(io, `Network ${network}`, 'Created');
    }
    for (const s of services) {
      let containers = serviceContainers(state, project, s.name);
      if (containers.length === 0) {
        const c = serviceContainer(project, s, network, 'Created', new Date().toISOString(), null);
        progress(io, cName(c), 'Creating');
        state.containers = state.containers.filter((o) => !(o.name === c.name && o.status === 'removed'));
        state.containers.push(c);
        progress(io, cName(c), 'Created');
        containers = [c];
      }
      for (const c of containers) {
        if (c.status === 'Up') {
          progress(io, cName(c), 'Running');
          continue;
        }
        if (!(await composeStartContainer(io, c))) return 1;
      }
    }
    return 0;
  });
}

function composePs(io: Io, project: ComposeProject, args: string[]): number {
  const { flags } = parseFlags(
    args,
    { bool: ['-a', '--all', '-q', '--quiet', '--no-trunc', '--services'], value: ['--format', '--status', '--filter'] },
    'compose ps',
  );
  const state = readState(io.root);
  const now = Date.now();
  const list = projectContainers(state, project)
    .filter((c) => has(flags, '-a', '--all') || c.status === 'Up')
    .sort((a, b) => a.name.localeCompare(b.name));
  if (has(flags, '--services')) {
    io.out(list.map((c) => c.service + '\n').join(''));
    return 0;
  }
  let format = last(flags, '--format') ?? 'table';
  if (has(flags, '-q', '--quiet')) format = '{{.ID}}';
  if (format === 'table')
    format = 'table {{.Name}}\\t{{.Image}}\\t{{.Command}}\\t{{.Service}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}';
  io.out(
    renderFormat(
      format,
      CONTAINER_HEADERS,
      list.map((c) => containerRow(c, !has(flags, '--no-trunc'), now)),
    ),
  );
  return 0;
}

async function cmdCompose(io: Io, args: string[]): Promise<number> {
  let file: string | undefined;
  let projectName: string | undefined;
  let projectDir: string | undefined;
  let i = 0;
  for (; i < args.length && args[i].startsWith('-'); i++) {
    const a = args[i];
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? args[++i];
    if (k === '-f' || k === '--file') file = value();
    else if (k === '-p' || k === '--project-name') projectName = value();
    else if (k === '--project-directory') projectDir = value();
    else if (k === '--ansi' || k === '--progress' || k === '--env-file' || k === '--profile' || k === '--parallel')
      value();
    else if (k === '--dry-run' || k === '--compatibility') continue;
    else throw new UsageError(`unknown flag: ${k}`, 1);
  }
  const sub = args[i];
  const rest = args.slice(i + 1);
  if (sub === 'version') {
    io.out('Docker Compose version v2.32.4\n');
    return 0;
  }
  if (!sub) throw new UsageError('Usage:  docker compose [OPTIONS] COMMAND', 1);
  if (!['stop', 'start', 'down', 'up', 'ps', 'restart'].includes(sub)) {
    throw new UsageError(`unknown docker command: "compose ${sub}"`, 1);
  }
  const composeFile = file ? resolve(io.cwd, file) : findComposeFile(projectDir ? resolve(io.cwd, projectDir) : io.cwd);
  if (!composeFile || !existsSync(composeFile)) {
    io.err(file ? `open ${composeFile}: no such file or directory\n` : 'no configuration file provided: not found\n');
    return 1;
  }
  const project = loadComposeProject(composeFile, projectName);
  const { flags, rest: positional } = parseFlags(
    rest,
    {
      bool: [
        '--remove-orphans',
        '-v',
        '--volumes',
        '-d',
        '--detach',
        '-a',
        '--all',
        '-q',
        '--quiet',
        '--no-trunc',
        '--services',
        '--wait',
        '--no-deps',
        '--force-recreate',
        '--no-recreate',
        '--build',
        '--no-build',
      ],
      value: ['-t', '--timeout', '--rmi', '--format', '--status', '--filter', '--pull'],
    },
    `compose ${sub}`,
  );
  switch (sub) {
    case 'stop':
      return composeStop(io, project, positional);
    case 'start':
      return composeStart(io, project, positional);
    case 'restart': {
      const rc = await composeStop(io, project, positional);
      return rc === 0 ? composeStart(io, project, positional) : rc;
    }
    case 'down':
      return composeDown(io, project, has(flags, '--remove-orphans'));
    case 'up':
      if (!has(flags, '-d', '--detach')) {
        io.err('lab docker: only `docker compose up -d` is supported (there is nothing to attach to)\n');
        return 1;
      }
      return composeUp(io, project, positional);
    default:
      return composePs(io, project, rest);
  }
}

/** dockerd at boot: containers whose state says Up (restart: unless-stopped) get their stand-in back. */
async function cmdBoot(io: Io): Promise<number> {
  let rc = 0;
  await withStateLock(io.root, async (state) => {
    for (const c of liveContainers(state)) {
      if (c.status !== 'Up' || standInAlive(c)) continue;
      try {
        await startStandIn(io.root, c);
        c.startedAt = new Date().toISOString();
        io.out(`${c.name}: started (pid ${c.pid})\n`);
      } catch (err) {
        c.status = 'Exited';
        c.exitCode = 128;
        c.finishedAt = new Date().toISOString();
        c.pid = null;
        c.pidStart = null;
        io.err(`${c.name}: ${(err as Error).message}\n`);
        rc = 1;
      }
    }
  });
  return rc;
}

export async function runDocker(argv: string[], io: Io): Promise<number> {
  const args = [...argv];
  // global options before the command
  while (args.length && args[0].startsWith('-') && args[0] !== '--version' && args[0] !== '-v') {
    const a = args.shift() as string;
    if (['-H', '--host', '-l', '--log-level', '-c', '--context', '--config'].includes(a)) args.shift();
    else if (a === '--help' || a === '-h') {
      io.out('Usage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers (lab stand-in)\n');
      return 0;
    }
  }
  const [cmd, ...rest] = args;
  try {
    switch (cmd) {
      case '--version':
      case '-v':
        io.out('Docker version 27.5.1, build 9f9e405\n');
        return 0;
      case 'version':
        io.out('Client: Docker Engine - Community\n Version:           27.5.1\n API version:       1.47\n\n');
        io.out(
          'Server: Docker Engine - Community\n Engine:\n  Version:          27.5.1\n  API version:      1.47 (minimum version 1.24)\n',
        );
        return 0;
      case 'ps':
        return cmdPs(io, rest);
      case 'container':
        if (rest[0] === 'ls' || rest[0] === 'list' || rest[0] === 'ps') return cmdPs(io, rest.slice(1));
        if (rest[0] === 'start' || rest[0] === 'stop') return await cmdStartStop(io, rest[0], rest.slice(1));
        break;
      case 'images':
        return cmdImages(io, rest);
      case 'image':
        if (rest[0] === 'ls' || rest[0] === 'list') return cmdImages(io, rest.slice(1));
        if (rest[0] === 'prune') return await cmdImagePrune(io, rest.slice(1));
        break;
      case 'start':
      case 'stop':
        return await cmdStartStop(io, cmd, rest);
      case 'logs':
        return cmdLogs(io, rest);
      case 'compose':
        return await cmdCompose(io, rest);
      case 'boot':
        return await cmdBoot(io);
      case undefined:
        io.out('Usage:  docker [OPTIONS] COMMAND\n');
        return 0;
    }
    io.err(
      `docker: unknown command: docker ${[cmd, rest[0]].filter(Boolean).join(' ')}\n\nRun 'docker --help' for more information\n`,
    );
    return 1;
  } catch (err) {
    if (err instanceof UsageError || err instanceof DaemonError) {
      io.err(`${err.message}\n`);
      return err instanceof UsageError ? err.code : 1;
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Seeding a Docker-era guest

export interface SeedOptions {
  /** Root prefix (the guest's `/`, or a temp dir in tests). */
  root: string;
  gatewayPort?: number;
  panelPort?: number;
  /** How long the containers have been up (default 14 hours, as in record 000). */
  upForMs?: number;
  gatewayImage?: string;
  panelImage?: string;
}

export function composeYaml(o: {
  gatewayPort: number;
  panelPort: number;
  gatewayImage: string;
  panelImage: string;
}): string {
  return `services:
  openclaw-gateway:
    image: ${o.gatewayImage}
    container_name: openclaw-gateway
    restart: unless-stopped
    environment:
      - HOME=/home/node
      - TZ=Asia/Shanghai
    volumes:
      - /data/openclaw:/home/node/.openclaw
    ports:
      - "127.0.0.1:${o.gatewayPort}:18789"
    command: ["node", "openclaw.mjs", "gateway", "--bind", "lan", "--port", "18789", "--allow-unconfigured"]

  openclaw-panel:
    image: ${o.panelImage}
    container_name: openclaw-panel
    restart: unless-stopped
    depends_on:
      - openclaw-gateway
    environment:
      - PANEL_CONFIG_PATH=/data/panel/panel.config.json
    volumes:
      - /data/panel:/data/panel
      - /data/openclaw:/root/.openclaw
      - /var/run/docker.sock:/var/run/docker.sock
    ports:
      - "127.0.0.1:${o.panelPort}:18080"
`;
}

/**
 * Writes the docker state of a Docker-era OpenClaw VM under `root` from its compose file (default
 * `/opt/openclaw/docker-compose.yml` under `root`): one container per service, all Up for `upForMs` (state only;
 * `docker boot` or `compose start` brings their stand-ins up), created in dependency order a second apart (so
 * `docker ps` lists the later ones first), their images and the project network.
 */
export function seedDockerState(root: string, opts: { upForMs?: number; composeFile?: string } = {}): DockerState {
  const project = loadComposeProject(opts.composeFile ?? join(root, COMPOSE_DIR, 'docker-compose.yml'));
  const network = `${project.name}_default`;
  const now = Date.now();
  const upFor = opts.upForMs ?? 14 * 3_600_000;
  const iso = (t: number) => new Date(t).toISOString();
  const services = dependencyOrder(project.services);
  const state: DockerState = { version: 1, networks: [network], images: [], containers: [] };
  services.forEach((s, i) => {
    const role = roleOf(s.name);
    if (!state.images.some((img) => img.repoTags.includes(s.image))) {
      state.images.push({
        id: `sha256:${randomBytes(32).toString('hex')}`,
        repoTags: [s.image],
        sizeBytes: role === 'gateway' ? 1_843_212_345 : 312_456_789,
        createdAt: iso(now - upFor - (3 - i) * 86_400_000),
      });
    }
    const createdAt = iso(now - upFor - (services.length - i) * 1_000);
    state.containers.push(serviceContainer(project, s, network, 'Up', createdAt, iso(now - upFor)));
  });
  writeState(root, state);
  return state;
}

/** Writes `/opt/openclaw/docker-compose.yml` (gateway and panel on the given ports) and the matching state. */
export function seedDockerLab(opts: SeedOptions): DockerState {
  mkdirSync(join(opts.root, COMPOSE_DIR), { recursive: true });
  writeFileSync(
    join(opts.root, COMPOSE_DIR, 'docker-compose.yml'),
    composeYaml({
      gatewayPort: opts.gatewayPort ?? 28789,
      panelPort: opts.panelPort ?? 28080,
      gatewayImage: opts.gatewayImage ?? 'ghcr.io/openclaw/openclaw:2026.2.19',
      panelImage: opts.panelImage ?? 'ghcr.io/bianshumeng/openclaw-panel:v2026.02.10',
    }),
  );
  return seedDockerState(opts.root, { upForMs: opts.upForMs });
}

// ---------------------------------------------------------------------------------------------------------------

function stdinLine(): Promise<string | null> {
  return new Promise((resolveLine) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(buf.slice(0, nl));
    };
    const finish = (v: string | null) => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
      resolveLine(v);
    };
    const onEnd = () => finish(buf === '' ? null : buf);
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
  });
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const io: Io = {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    cwd: process.cwd(),
    root: labRoot(),
    readLine: stdinLine,
  };
  let rc: number;
  try {
    rc = await runDocker(argv, io);
  } catch (err) {
    process.stderr.write(`docker: ${(err as Error).stack ?? err}\n`);
    rc = 1;
  }
  process.exitCode = rc;
}

if (require.main === module) {
  void main();
}
