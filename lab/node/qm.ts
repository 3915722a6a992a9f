/**
 * The lab node's `qm`: the parts of Proxmox VE's qm (qemu-server: PVE/CLI/qm.pm, PVE/API2/Qemu/Agent.pm,
 * PVE/QemuServer/Agent.pm, PVE/QMPClient.pm, with pve-common's CLIHandler/JSONSchema for the command
 * line) that the migration uses, with their texts, output formats and exit codes:
 *
 *     qm list
 *     qm status <vmid>
 *     qm config <vmid>
 *     qm guest cmd <vmid> <command>
 *     qm guest exec <vmid> [<extra-args>] [--synchronous 0|1] [--timeout N] [--pass-stdin 1]
 *     qm guest exec-status <vmid> <pid>
 *
 * Files (all below $LAB_ROOT, default /): /etc/pve/qemu-server/<vmid>.conf, /var/run/qemu-server/<vmid>.pid
 * (the VM runs iff that pid is alive), /var/run/qemu-server/<vmid>.qga (the guest agent's socket).
 *
 * Two lab knobs beyond qm: QM_EXEC_POLL_MS, how often a synchronous `guest exec` polls exec-status
 * (qm sleeps 1 s between polls; default 1000), and $LAB_ROOT/etc/openclaw-lab/pve, the Proxmox VE whose wording
 * qm speaks (`8`, or `9` for 9.1 and later, the default; `lab up --pve`): QMPClient wraps an agent's transport
 * failure as `VM <vmid> qmp command '…' failed - …` in 8 and `VM <vmid> qga command '…' failed - …` since
 * qemu-server 9.0.26, and 9.1's Monitor.pm looks for the agent's socket before connecting ("unable to open
 * monitor socket") where 8's looked for QEMU's QMP socket, so a missing agent socket reached QMPClient's connect.
 */
import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

import { QgaTransportError, isQgaError, qgaRequest, type QgaResponse } from '../shared/qga-protocol';

export interface QmIo {
  env: NodeJS.ProcessEnv;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** A Perl `die`: the message goes to stderr as is; Perl's exit code is $! || ($? >> 8) || 255. */
export class Die extends Error {
  constructor(
    message: string,
    readonly exitCode = 255,
  ) {
    super(message);
  }
}

/** PVE::Exception with code 400 (a parameter exception); the CLI appends the command's usage. */
export class ParamException extends Error {
  usage?: string;
  constructor(
    readonly msg: string,
    readonly errors?: Record<string, string>,
  ) {
    super(msg);
  }

  /** PVE::Exception::stringify */
  render(): string {
    let out = `400 ${this.msg}`;
    if (!out.endsWith('\n')) out += '\n';
    for (const key of Object.keys(this.errors ?? {}).sort()) out += `${key}: ${this.errors![key]}\n`;
    if (this.usage) {
      out += this.usage;
      if (!out.endsWith('\n')) out += '\n';
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// Perl's JSON->new->pretty->canonical->utf8 (to_json($x, { pretty => 1, canonical => 1, utf8 => 1 }))

/**
 * JSON::XS pretty + canonical: 3-space indent, `"key" : value`, keys sorted, a newline at the end.
 * Strings are Perl character strings; the caller writes the result UTF-8 encoded (the utf8 option).
 */
export function perlJsonPretty(value: unknown): string {
  return encodePerl(value, 0) + '\n';
}

function encodePerl(value: unknown, level: number): string {
  const pad = (n: number) => ' '.repeat(3 * n);
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad(level + 1) + encodePerl(v, level + 1)).join(',\n')}\n${pad(level)}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  if (keys.length === 0) return '{}';
  const members = keys.map((k) => `${pad(level + 1)}${JSON.stringify(k)} : ${encodePerl(obj[k], level + 1)}`);
  return `{\n${members.join(',\n')}\n${pad(level)}}`;
}

// ---------------------------------------------------------------------------------------------------
// Paths, config, run state

const QGA_COMMANDS = [
  'fsfreeze-freeze',
  'fsfreeze-status',
  'fsfreeze-thaw',
  'fstrim',
  'get-fsinfo',
  'get-host-name',
  'get-memory-block-info',
  'get-memory-blocks',
  'get-osinfo',
  'get-time',
  'get-timezone',
  'get-users',
  'get-vcpus',
  'info',
  'network-get-interfaces',
  'ping',
  'shutdown',
  'suspend-disk',
  'suspend-hybrid',
  'suspend-ram',
];

/** Where the lab says which Proxmox VE's wording qm speaks, below $LAB_ROOT. */
export const QM_PVE_FILE = 'etc/openclaw-lab/pve';

class Node {
  readonly root: string;
  readonly name: string;
  readonly pollMs: number;
  readonly pve: '8' | '9';

  constructor(env: NodeJS.ProcessEnv) {
    this.root = env.LAB_ROOT || '/';
    // PVE::INotify::nodename: uname's nodename up to the first dot
    this.name = hostname().replace(/\..*$/, '');
    const poll = Number(env.QM_EXEC_POLL_MS);
    this.pollMs = Number.isFinite(poll) && poll > 0 ? poll : 1000;
    let pve = '9';
    try {
      pve = readFileSync(join(this.root, QM_PVE_FILE), 'utf8').trim();
    } catch {
      // no file: the current wording
    }
    if (pve !== '8' && pve !== '9') throw new Die(`lab: ${QM_PVE_FILE} says '${pve}', not 8 or 9\n`);
    this.pve = pve;
  }

  confDir(): string {
    return join(this.root, 'etc/pve/qemu-server');
  }
  confPath(vmid: string): string {
    return join(this.confDir(), `${vmid}.conf`);
  }
  pidPath(vmid: string): string {
    return join(this.root, 'var/run/qemu-server', `${vmid}.pid`);
  }
  qgaPath(vmid: string): string {
    return join(this.root, 'var/run/qemu-server', `${vmid}.qga`);
  }

  /** PVE::QemuConfig->load_config; dies (errno ENOENT → exit 2) when the file is missing. */
  loadConfig(vmid: string): VmConfig {
    let raw: string;
    try {
      raw = readFileSync(this.confPath(vmid), 'utf8');
    } catch {
      throw new Die(`Configuration file 'nodes/${this.name}/qemu-server/${vmid}.conf' does not exist\n`, 2);
    }
    return parseVmConfig(raw);
  }

  /** PVE::QemuServer::Helpers::vm_running_locally: the pid file names a live process. */
  runningPid(vmid: string): number | undefined {
    let line: string;
    try {
      line = readFileSync(this.pidPath(vmid), 'utf8').split('\n')[0].trim();
    } catch {
      return undefined;
    }
    if (!/^\d+$/.test(line)) return undefined;
    const pid = Number(line);
    return pidAlive(pid) ? pid : undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export type VmConfig = Record<string, string>;

/**
 * PVE::QemuServer::parse_vm_config, the part the SOP's `qm config` shows: the `key: value` lines of the main
 * section (snapshots and pending changes follow in `[sections]`; the lab's VMs have none, nor a description).
 */
export function parseVmConfig(raw: string): VmConfig {
  const conf: VmConfig = {};
  for (const line of raw.split('\n')) {
    if (/^\[/.test(line)) break;
    const kv = /^([a-z][a-z0-9_-]*):\s*(.*\S)\s*$/.exec(line);
    if (kv) conf[kv[1]] = kv[2];
  }
  return conf;
}

// ---------------------------------------------------------------------------------------------------
// The guest agent, as PVE::QemuServer::Monitor::mon_cmd + PVE::QemuServer::Agent use it

/** PVE::QMPClient's per-command timeouts for qga commands (seconds). */
function qgaTimeout(execute: string): number {
  if (execute === 'guest-fsfreeze-freeze') return 60 * 60;
  if (execute === 'guest-fsfreeze-thaw') return 3 * 60;
  if (execute === 'guest-fstrim' || execute === 'guest-shutdown') return 10 * 60;
  return 5;
}

type AgentResult = unknown;

class Agent {
  constructor(private readonly node: Node) {}

  /** mon_cmd($vmid, $execute, %params): the `return` value, or { error } when the agent answered one. */
  async monCmd(vmid: string, execute: string, args?: Record<string, unknown>, timeout?: number): Promise<AgentResult> {
    if (this.node.runningPid(vmid) === undefined) throw new Die(`VM ${vmid} not running\n`);
    const sname = this.node.qgaPath(vmid);
    // 9.1 tests the agent's socket; 8 tested QEMU's QMP socket, there while the VM runs
    if (this.node.pve === '9' && !existsSync(sname)) throw new Die('unable to open monitor socket\n');
    let res: QgaResponse;
    try {
      res = await qgaRequest(sname, execute, args, { timeoutMs: (timeout ?? qgaTimeout(execute)) * 1000, vmid });
    } catch (err) {
      const why = err instanceof QgaTransportError ? err.message : String(err);
      const peer = this.node.pve === '9' ? 'qga' : 'qmp';
      throw new Die(`VM ${vmid} ${peer} command '${execute}' failed - ${why.endsWith('\n') ? why : `${why}\n`}`);
    }
    return isQgaError(res) ? { error: res.error } : res.return;
  }

  async checkRunning(vmid: string): Promise<boolean> {
    try {
      await this.monCmd(vmid, 'guest-ping', undefined, 3);
      return true;
    } catch {
      return false;
    }
  }

  async assertAvailable(vmid: string, conf: VmConfig): Promise<void> {
    if (conf.agent === undefined) throw new Die('No QEMU guest agent configured\n');
    if (this.node.runningPid(vmid) === undefined) throw new Die(`VM ${vmid} is not running\n`);
    if (!(await this.checkRunning(vmid))) throw new Die('QEMU guest agent is not running\n');
  }

  async cmd(
    vmid: string,
    conf: VmConfig,
    cmd: string,
    params: Record<string, unknown>,
    errmsg: string,
  ): Promise<AgentResult> {
    await this.assertAvailable(vmid, conf);
    const res = await this.monCmd(vmid, `guest-${cmd}`, params);
    checkAgentError(res, errmsg);
    return res;
  }

  /** PVE::QemuServer::Agent::qemu_exec */
  async exec(vmid: string, conf: VmConfig, inputData: Buffer | undefined, cmd: string[] | undefined) {
    const args: Record<string, unknown> = { 'capture-output': true };
    if (cmd) {
      args.path = cmd[0];
      args.arg = cmd.slice(1);
    }
    if (inputData !== undefined) args['input-data'] = inputData.toString('base64');
    if (args['input-data'] === undefined && args.path === undefined) {
      throw new Die('command or input-data (or both) required\n');
    }
    let errmsg = "can't execute command";
    if (cmd) errmsg += ` (${cmd[0]} ARRAY)`;
    if (inputData !== undefined) errmsg += ' (input-data given)';
    return (await this.cmd(vmid, conf, 'exec', args, errmsg)) as Record<string, unknown>;
  }

  /** PVE::QemuServer::Agent::qemu_exec_status: out-data/err-data base64-decoded, booleans as 1/0. */
  async execStatus(vmid: string, conf: VmConfig, pid: number): Promise<Record<string, unknown>> {
    const res = (await this.cmd(vmid, conf, 'exec-status', { pid }, `can't get exec status for '${pid}'`)) as Record<
      string,
      unknown
    >;
    for (const key of ['out-data', 'err-data']) {
      // decode_base64 gives bytes; Perl keeps them as a byte string (one character per byte)
      if (res[key]) res[key] = Buffer.from(String(res[key]), 'base64').toString('latin1');
    }
    for (const [k, v] of Object.entries(res)) if (typeof v === 'boolean') res[k] = v ? 1 : 0;
    return res;
  }
}

function checkAgentError(result: unknown, errmsg: string): void {
  const desc = (result as { error?: { desc?: string } } | undefined)?.error?.desc;
  if (result && typeof result === 'object' && desc) throw new Die(`Agent error: ${desc}\n`);
  if (result === undefined || result === null) throw new Die(`Agent error: ${errmsg}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Command definitions (JSON schema of each API method, as far as the CLI needs it)

interface PropDef {
  type: 'integer' | 'boolean' | 'string' | 'array';
  optional?: boolean;
  minimum?: number;
  maximum?: number;
  format?: 'pve-vmid';
  enum?: string[];
}

type Params = Record<string, string | string[] | number | undefined>;

interface Ctx {
  io: QmIo;
  node: Node;
  agent: Agent;
  out: (text: string) => void;
  warn: (text: string) => void;
}

interface MethodDef {
  props: Record<string, PropDef>;
  argParam: string[];
  run: (p: Params, ctx: Ctx) => Promise<void>;
}

const vmidProp: PropDef = { type: 'integer', format: 'pve-vmid', minimum: 100, maximum: 999_999_999 };

/** $print_agent_result */
function printAgentResult(ctx: Ctx, result: unknown): void {
  if (result === undefined || result === null) return;
  if (typeof result !== 'object') {
    const text = String(result).replace(/\n$/, '');
    if (/^\s*$/.test(text)) return;
    ctx.out(`${text}\n`);
    return;
  }
  if (!Array.isArray(result) && Object.keys(result).length === 0) return;
  ctx.out(perlJsonPretty(result));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** read STDIN until EOF; dies past 1 MiB like qm's exec (checked after each line read) */
async function readStdinLimited(stdin: Readable): Promise<Buffer> {
  const limit = 1024 * 1024;
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(buf);
    length += buf.length;
    if (length > limit) {
      stdin.destroy();
      throw new Die("'input-data' (STDIN) is limited to 1 MiB, aborting\n");
    }
  }
  return Buffer.concat(chunks);
}

/** bootdisk size in bytes (PVE::QemuServer::Drive::bootdisk_size, roughly) */
function bootdiskSize(conf: VmConfig): number {
  const order = /(?:^|,)order=([^,]+)/.exec(conf.boot ?? '')?.[1]?.split(';') ?? [];
  const candidates = [...order, conf.bootdisk, 'scsi0', 'virtio0', 'sata0', 'ide0'].filter(Boolean) as string[];
  for (const name of candidates) {
    const drive = conf[name];
    if (!drive || /media=cdrom/.test(drive)) continue;
    const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)/.exec(drive);
    if (!m) continue;
    const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
    return Number(m[1]) * unit;
  }
  return 0;
}

const METHODS: Record<string, MethodDef> = {
  list: {
    props: { full: { type: 'boolean', optional: true } },
    argParam: [],
    async run(_p, ctx) {
      let files: string[] = [];
      try {
        files = readdirSync(ctx.node.confDir()).filter((f) => /^\d+\.conf$/.test(f));
      } catch {
        // no configs: nothing to list
      }
      if (files.length === 0) return;
      const pad = (s: string, n: number, left = false) => (left ? s.padEnd(n) : s.padStart(n));
      let out = `${pad('VMID', 10)} ${pad('NAME', 20, true)} ${pad('STATUS', 10, true)} ${pad('MEM(MB)', 10, true)} ${pad('BOOTDISK(GB)', 12)} ${pad('PID', 10, true)}\n`;
      const vmids = files.map((f) => Number(f.replace(/\.conf$/, ''))).sort((a, b) => a - b);
      for (const vmid of vmids) {
        const conf = ctx.node.loadConfig(String(vmid));
        const pid = ctx.node.runningPid(String(vmid));
        const mem = Number(/^(\d+)/.exec(conf.memory ?? '')?.[1] ?? 512);
        const disk = (bootdiskSize(conf) / 1024 ** 3).toFixed(2);
        out += `${pad(String(vmid), 10)} ${pad(conf.name || `VM ${vmid}`, 20, true)} ${pad(pid ? 'running' : 'stopped', 10, true)} ${pad(String(mem), 10, true)} ${pad(disk, 12)} ${pad(String(pid ?? 0), 10, true)}\n`;
      }
      ctx.out(out);
    },
  },

  status: {
    props: { vmid: vmidProp },
    argParam: ['vmid'],
    async run(p, ctx) {
      const vmid = String(p.vmid);
      ctx.node.loadConfig(vmid);
      ctx.out(`status: ${ctx.node.runningPid(vmid) ? 'running' : 'stopped'}\n`);
    },
  },

  config: {
    props: { vmid: vmidProp },
    argParam: ['vmid'],
    async run(p, ctx) {
      const conf = ctx.node.loadConfig(String(p.vmid));
      ctx.out(
        Object.keys(conf)
          .filter((k) => k !== 'digest')
          .sort()
          .map((k) => `${k}: ${conf[k]}\n`)
          .join(''),
      );
    },
  },

  'guest cmd': {
    props: { vmid: vmidProp, command: { type: 'string', enum: QGA_COMMANDS } },
    argParam: ['vmid', 'command'],
    async run(p, ctx) {
      const vmid = String(p.vmid);
      const conf = ctx.node.loadConfig(vmid);
      await ctx.agent.assertAvailable(vmid, conf);
      const res = await ctx.agent.monCmd(vmid, `guest-${p.command}`);
      printAgentResult(ctx, res);
    },
  },

  'guest exec': {
    props: {
      vmid: vmidProp,
      synchronous: { type: 'boolean', optional: true },
      timeout: { type: 'integer', minimum: 0, optional: true },
      'pass-stdin': { type: 'boolean', optional: true },
      'extra-args': { type: 'array', optional: true },
    },
    argParam: ['vmid', 'extra-args'],
    async run(p, ctx) {
      const vmid = String(p.vmid);
      const sync = p.synchronous === undefined ? true : Boolean(p.synchronous);
      if (p.timeout !== undefined && !sync) {
        throw new ParamException('Parameter verification failed.\n', {
          synchronous: "needs to be set for 'timeout'",
        });
      }
      let inputData: Buffer | undefined;
      if (p['pass-stdin']) inputData = await readStdinLimited(ctx.io.stdin);
      let args = p['extra-args'] as string[] | undefined;
      if (!args || args.length === 0) args = undefined;

      const conf = ctx.node.loadConfig(vmid);
      let res = await ctx.agent.exec(vmid, conf, inputData, args);
      dropSshSessionOnFault(vmid);
      if (sync) {
        const pid = Number(res.pid);
        const timeout = p.timeout === undefined ? 30 : Number(p.timeout);
        const start = Date.now();
        while (timeout === 0 || Date.now() - start < timeout * 1000) {
          const out = await ctx.agent.execStatus(vmid, conf, pid);
          if (out.exited) {
            res = out;
            break;
          }
          await sleep(ctx.node.pollMs);
        }
        if (!res.exited) ctx.warn('timeout reached, returning pid\n');
      }
      printAgentResult(ctx, res);
    },
  },

  'guest exec-status': {
    props: { vmid: vmidProp, pid: { type: 'integer' } },
    argParam: ['vmid', 'pid'],
    async run(p, ctx) {
      const vmid = String(p.vmid);
      const conf = ctx.node.loadConfig(vmid);
      const res = await ctx.agent.execStatus(vmid, conf, Math.trunc(Number(p.pid)));
      printAgentResult(ctx, res);
    },
  },
};

/**
 * The lab's ssh-drop fault: once the guest command has started, the operator's SSH session to the node dies
 * (its sshd process is killed) while the command goes on in the guest. The fault fires once, so a retry succeeds.
 */
function dropSshSessionOnFault(vmid: string): void {
  const fault = `/run/openclaw-lab-run/faults/${vmid}/ssh-drop`;
  try {
    unlinkSync(fault);
  } catch {
    return; // no fault injected
  }
  for (let pid = process.ppid; pid > 1;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (comm === 'sshd') {
      process.kill(pid, 'SIGKILL');
      return;
    }
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
}

/** the command tree ($cmddef), the commands the SOP and the product call */
type CmdTree = { [name: string]: string | CmdTree };
const CMDDEF: CmdTree = {
  list: 'list',
  status: 'status',
  config: 'config',
  guest: { cmd: 'guest cmd', exec: 'guest exec', 'exec-status': 'guest exec-status' },
};

function usageOf(method: string, prefix: string): string {
  const def = METHODS[method];
  const args = def.argParam.map((a) => (def.props[a].optional ? `[<${a}>]` : `<${a}>`)).join(' ');
  const hasOptions = Object.keys(def.props).some((k) => !def.argParam.includes(k));
  return `${prefix}${args ? ` ${args}` : ''}${hasOptions ? ' [OPTIONS]' : ''}\n`;
}

function usageList(tree: CmdTree, prefix: string): string {
  let out = '';
  for (const name of Object.keys(tree).sort()) {
    const entry = tree[name];
    if (typeof entry === 'string') {
      out += '       ' + usageOf(entry, `${prefix} ${name}`);
    } else {
      out += usageList(entry, `${prefix} ${name}`);
    }
  }
  return out;
}

function printUsageShort(reason: string, tree: CmdTree, prefix: string): string {
  let out = `ERROR: ${reason}\n`;
  out += 'USAGE: qm <COMMAND> [ARGS] [OPTIONS]\n\n';
  out += usageList(tree, prefix);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// PVE::JSONSchema::get_options (Getopt::Long with prefix_pattern (--|-), auto_abbrev, ignore_case) and
// PVE::JSONSchema::validate

function parseBoolean(value: string): number | undefined {
  if (/^(1|on|yes|true)$/i.test(value)) return 1;
  if (/^(0|off|no|false)$/i.test(value)) return 0;
  return undefined;
}

function getOptions(def: MethodDef, argv: string[], warn: (t: string) => void): Params {
  const optionNames = Object.keys(def.props).filter((k) => !def.argParam.includes(k));
  const opts: Record<string, string | string[]> = {};
  const rest: string[] = [];
  let failed = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    const m = /^(--|-)([^=]+)(?:=([\s\S]*))?$/.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    const given = m[2];
    const lower = given.toLowerCase();
    let matches = optionNames.filter((n) => n.toLowerCase() === lower);
    if (matches.length === 0) matches = optionNames.filter((n) => n.toLowerCase().startsWith(lower));
    if (matches.length === 0) {
      warn(`Unknown option: ${lower}\n`);
      failed = true;
      continue;
    }
    if (matches.length > 1) {
      warn(`Option ${given} is ambiguous (${matches.sort().join(', ')})\n`);
      failed = true;
      continue;
    }
    const name = matches[0];
    let value: string;
    if (m[3] !== undefined) {
      value = m[3];
    } else if (def.props[name].type === 'boolean') {
      // "name:s": an optional value, not taken if the next word looks like an option or is "--"
      const next = argv[i + 1];
      if (next !== undefined && !/^(--|-)./.test(next)) {
        value = next;
        i++;
      } else {
        value = '';
      }
    } else if (i + 1 < argv.length) {
      value = argv[++i]; // "name=s": a mandatory value takes anything
    } else {
      warn(`Option ${given} requires an argument\n`);
      failed = true;
      continue;
    }
    opts[name] = value;
  }
  if (failed) throw new ParamException('unable to parse option\n');

  const params: Params = { ...opts };
  const positional = [...rest];
  for (const argName of def.argParam) {
    if (argName === 'extra-args') {
      params['extra-args'] = positional.splice(0);
      continue;
    }
    if (positional.length === 0) throw new ParamException('not enough arguments\n');
    params[argName] = positional.shift();
  }
  if (positional.length > 0) throw new ParamException('too many arguments\n');

  for (const [name, pd] of Object.entries(def.props)) {
    if (pd.type !== 'boolean' || params[name] === undefined) continue;
    const raw = String(params[name]);
    const bool = raw === '' ? 1 : parseBoolean(raw);
    if (bool === undefined) throw new ParamException('unable to parse boolean option\n');
    params[name] = bool;
  }
  return params;
}

function validate(def: MethodDef, params: Params): void {
  const errors: Record<string, string> = {};
  for (const [name, pd] of Object.entries(def.props)) {
    const value = params[name];
    if (value === undefined) {
      if (!pd.optional) errors[name] = 'property is missing and it is not optional';
      continue;
    }
    if (pd.type === 'array') continue;
    const v = String(value);
    if (pd.type === 'integer' && !/^[+-]?\d+$/.test(v)) {
      errors[name] = `type check ('integer') failed - got '${v}'`;
      continue;
    }
    if (pd.format === 'pve-vmid' && !/^[1-9][0-9]{2,8}$/.test(v)) {
      errors[name] = 'invalid format - value does not look like a valid VM ID\n';
      continue;
    }
    if (pd.type === 'integer') {
      if (pd.maximum !== undefined && Number(v) > pd.maximum) {
        errors[name] = `value must have a maximum value of ${pd.maximum}`;
        continue;
      }
      if (pd.minimum !== undefined && Number(v) < pd.minimum) {
        errors[name] = `value must have a minimum value of ${pd.minimum}`;
        continue;
      }
    }
    if (pd.enum && !pd.enum.includes(v)) {
      errors[name] = `value '${v}' does not have a value in the enumeration '${pd.enum.join(', ')}'`;
    }
  }
  if (Object.keys(errors).length > 0) throw new ParamException('Parameter verification failed.\n', errors);
}

// ---------------------------------------------------------------------------------------------------

/** Runs qm with `argv` (without the program name); resolves with the exit code. */
export async function runQm(argv: string[], io: QmIo): Promise<number> {
  const writeOut = (text: string) => io.stdout.write(Buffer.from(text, 'utf8'));
  const writeErr = (text: string) => io.stderr.write(Buffer.from(text, 'utf8'));
  const node = new Node(io.env);
  const ctx: Ctx = { io, node, agent: new Agent(node), out: writeOut, warn: writeErr };

  const args = [...argv];
  if (args.length === 0) {
    writeErr(printUsageShort('no command specified', CMDDEF, 'qm'));
    return 255;
  }

  // resolve the (sub)command
  let tree: CmdTree = CMDDEF;
  let cmdStr = 'qm';
  let method: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const name = args[i];
    cmdStr += ` ${name}`;
    const entry = tree[name];
    if (entry === undefined) {
      writeErr(printUsageShort(`unknown command '${cmdStr}'`, CMDDEF, 'qm'));
      return 255;
    }
    if (typeof entry === 'string') {
      method = entry;
      i++;
      break;
    }
    tree = entry;
  }
  if (!method) {
    writeErr(printUsageShort(`incomplete command '${cmdStr}'`, tree, cmdStr));
    return 255;
  }

  const def = METHODS[method];
  try {
    try {
      const params = getOptions(def, args.slice(i), writeErr);
      validate(def, params);
      await def.run(params, ctx);
    } catch (err) {
      if (err instanceof ParamException) err.usage = usageOf(method, cmdStr);
      throw err;
    }
  } catch (err) {
    if (err instanceof ParamException) {
      writeErr(err.render());
      return 255;
    }
    if (err instanceof Die) {
      writeErr(err.message);
      return err.exitCode;
    }
    writeErr(`${(err as Error).stack ?? String(err)}\n`);
    return 255;
  }
  return 0;
}

export async function main(): Promise<void> {
  const code = await runQm(process.argv.slice(2), {
    env: process.env,
    // opened only when read (--pass-stdin): an unread stdin must not hold the process
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
  });
  process.exitCode = code;
}

if (require.main === module) {
  void main();
}
