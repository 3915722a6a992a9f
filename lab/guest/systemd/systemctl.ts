import {
  catUnits,
  disableUnits,
  enableUnits,
  isEnabled,
  listUnitFiles,
  maskUnits,
  newOutput,
  Output,
  unmaskUnits,
} from './install';
import { CliIO } from './journal';
import { LabPaths } from './paths';
import { callDaemon, CtlOptions, defaultOptions } from './protocol';
import { mangleUnitName } from './unit-file';

const NOT_BOOTED = [
  "System has not been booted with systemd as init system (PID 1). Can't operate.",
  'Failed to connect to bus: Host is down',
];

/** Verbs and how many unit arguments they need. */
const VERBS: Record<string, { min: number; offline?: boolean }> = {
  'list-units': { min: 0 },
  'list-unit-files': { min: 0, offline: true },
  'list-jobs': { min: 0 },
  start: { min: 1 },
  stop: { min: 1 },
  reload: { min: 1 },
  restart: { min: 1 },
  'try-restart': { min: 1 },
  'reload-or-restart': { min: 1 },
  'try-reload-or-restart': { min: 1 },
  kill: { min: 1 },
  'is-active': { min: 1 },
  'is-failed': { min: 1 },
  status: { min: 0 },
  show: { min: 0 },
  cat: { min: 1, offline: true },
  'reset-failed': { min: 0 },
  enable: { min: 1, offline: true },
  disable: { min: 1, offline: true },
  reenable: { min: 1, offline: true },
  mask: { min: 1, offline: true },
  unmask: { min: 1, offline: true },
  'is-enabled': { min: 1, offline: true },
  'daemon-reload': { min: 0 },
  'daemon-reexec': { min: 0 },
  'is-system-running': { min: 0 },
};

const ALIASES: Record<string, string> = {
  condrestart: 'try-restart',
  condreload: 'try-reload-or-restart',
  'force-reload': 'try-reload-or-restart',
  'reload-or-try-restart': 'try-reload-or-restart',
  condstop: 'stop',
};

const HELP = `systemctl [OPTIONS...] COMMAND ...

Query or send control commands to the system manager (lab stand-in for systemd 252).

Unit Commands:
  list-units [PATTERN...]             List units currently in memory
  is-active PATTERN...                Check whether units are active
  is-failed PATTERN...                Check whether units are failed
  status [PATTERN...|PID...]          Show runtime status of one or more units
  show [PATTERN...|JOB...]            Show properties of one or more units/jobs or the manager
  cat PATTERN...                      Show files and drop-ins of specified units
  start UNIT...                       Start (activate) one or more units
  stop UNIT...                        Stop (deactivate) one or more units
  reload UNIT...                      Reload one or more units
  restart UNIT...                     Start or restart one or more units
  try-restart UNIT...                 Restart one or more units if active
  reload-or-restart UNIT...           Reload one or more units if possible, otherwise start or restart
  kill UNIT...                        Send signal to processes of a unit
  reset-failed [PATTERN...]           Reset failed state for all, one, or more units

Unit File Commands:
  list-unit-files [PATTERN...]        List installed unit files
  enable [UNIT...|PATH...]            Enable one or more unit files
  disable UNIT...                     Disable one or more unit files
  reenable UNIT...                    Reenable one or more unit files
  is-enabled UNIT...                  Check whether unit files are enabled
  mask UNIT...                        Mask one or more units
  unmask UNIT...                      Unmask one or more units

Manager State Commands:
  daemon-reload                       Reload systemd manager configuration
  is-system-running                   Check whether system is fully running

Options:
  -h --help              Show this help
     --version           Show package version
  -t --type=TYPE         List units of a particular type
     --state=STATE       List units with particular LOAD or SUB or ACTIVE state
     --failed            Shortcut for --state=failed
  -p --property=NAME     Show only properties by this name
  -P NAME                Equivalent to --value --property=NAME
  -a --all               Show all properties/all units currently in memory
  -l --full              Don't ellipsize unit names on output
     --value             When showing properties, only print the value
  -q --quiet             Suppress output
     --no-block          Do not wait until operation finished
     --no-legend         Do not print a legend (column headers and hints)
     --no-pager          Do not pipe output into a pager
     --no-reload         Don't reload daemon after en-/dis-abling unit files
     --now               Start or stop unit after enabling or disabling it
  -f --force             When enabling unit files, override existing symlinks
  -n --lines=INTEGER     Number of journal entries to show
  -s --signal=SIGNAL     Which signal to send
     --kill-whom=WHOM    Whom to send signal to (main, control, all)
`;

interface Parsed {
  verb: string;
  args: string[];
  opts: CtlOptions;
}

export function parseSystemctlArgs(argv: string[]): Parsed | { exit: number; out?: string; err?: string } {
  const opts = defaultOptions();
  const positional: string[] = [];
  const withValue = new Set([
    '-t',
    '--type',
    '-p',
    '--property',
    '-P',
    '-n',
    '--lines',
    '-s',
    '--signal',
    '-o',
    '--output',
  ]);
  const longWithValue = new Set([
    '--state',
    '--kill-whom',
    '--job-mode',
    '--kill-value',
    '--root',
    '--host',
    '--machine',
  ]);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    let val: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      val = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    } else if (!a.startsWith('--') && a.length > 2) {
      // -tservice, or a cluster of flags like -aq
      const first = a.slice(0, 2);
      if (withValue.has(first)) {
        val = a.slice(2);
        a = first;
      } else {
        argv.splice(
          i + 1,
          0,
          ...a
            .slice(2)
            .split('')
            .map((c) => `-${c}`),
        );
        a = first;
      }
    }
    const need = (): string | undefined => {
      if (val !== undefined) return val;
      if (i + 1 < argv.length) return argv[++i];
      return undefined;
    };
    if (withValue.has(a) || longWithValue.has(a)) {
      const v = need();
      if (v === undefined)
        return {
          exit: 1,
          err: a.startsWith('--')
            ? `systemctl: option '${a}' requires an argument`
            : `systemctl: option requires an argument -- '${a[1]}'`,
        };
      switch (a) {
        case '-t':
        case '--type':
          opts.types.push(...v.split(','));
          break;
        case '--state':
          opts.states.push(...v.split(','));
          break;
        case '-p':
        case '--property':
          opts.properties.push(...v.split(','));
          break;
        case '-P':
          opts.properties.push(...v.split(','));
          opts.value = true;
          break;
        case '-n':
        case '--lines':
          if (!/^\d+$/.test(v)) return { exit: 1, err: `Failed to parse lines '${v}'` };
          opts.lines = Number(v);
          break;
        case '-s':
        case '--signal':
          opts.signal = v;
          break;
        case '--kill-whom':
          if (!['main', 'control', 'all'].includes(v)) return { exit: 1, err: `Invalid --kill-whom= value: ${v}` };
          opts.killWhom = v;
          break;
        case '--root':
        case '-H':
        case '--host':
        case '-M':
        case '--machine':
          return { exit: 1, err: `${a} is not supported by the lab systemctl.` };
        default:
      }
      continue;
    }
    switch (a) {
      case '-h':
      case '--help':
        return { exit: 0, out: HELP };
      case '--version':
        return {
          exit: 0,
          out: 'systemd 252 (252.33-1~deb12u1-lab)\n+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP\n',
        };
      case '--now':
        opts.now = true;
        break;
      case '--no-block':
        opts.noBlock = true;
        break;
      case '-q':
      case '--quiet':
        opts.quiet = true;
        break;
      case '-a':
      case '--all':
        opts.all = true;
        break;
      case '-l':
      case '--full':
        opts.full = true;
        break;
      case '-f':
      case '--force':
        opts.force = true;
        break;
      case '--no-legend':
        opts.noLegend = true;
        break;
      case '--no-reload':
        opts.noReload = true;
        break;
      case '--value':
        opts.value = true;
        break;
      case '--plain':
        opts.plain = true;
        break;
      case '--failed':
        opts.failed = true;
        break;
      case '--no-pager':
      case '--no-ask-password':
      case '--system':
      case '--runtime':
      case '--wait':
      case '--show-types':
      case '--no-warn':
      case '-r':
      case '--recursive':
      case '-i':
      case '--ignore-inhibitors':
        break;
      case '--user':
      case '--global':
        return { exit: 1, err: 'Failed to connect to bus: No medium found' };
      default:
        return {
          exit: 1,
          err: a.startsWith('--') ? `systemctl: unrecognized option '${a}'` : `systemctl: invalid option -- '${a[1]}'`,
        };
    }
  }
  let verb = positional.shift() ?? 'list-units';
  verb = ALIASES[verb] ?? verb;
  const spec = VERBS[verb];
  if (!spec) return { exit: 1, err: `Unknown command verb '${verb}'.` };
  if (positional.length < spec.min) return { exit: 1, err: 'Too few arguments.' };
  if (verb === 'daemon-reload' && positional.length) return { exit: 1, err: 'Too many arguments.' };
  return { verb, args: positional, opts };
}

/** Unit-file verbs work without a manager, as systemctl does when not booted with systemd (install_client_side()). */
function offline(paths: LabPaths, p: Parsed): Output {
  const names = p.args.map(mangleUnitName);
  switch (p.verb) {
    case 'enable':
      return enableUnits(paths, names, { force: p.opts.force });
    case 'reenable': {
      const o = disableUnits(paths, names);
      return enableUnits(paths, names, { force: p.opts.force }, o);
    }
    case 'disable':
      return disableUnits(paths, names);
    case 'mask':
      return maskUnits(paths, names);
    case 'unmask':
      return unmaskUnits(paths, names);
    case 'is-enabled':
      return isEnabled(paths, names, p.opts.quiet);
    case 'cat':
      return catUnits(paths, names);
    case 'list-unit-files':
      return listUnitFiles(paths, { noLegend: p.opts.noLegend, patterns: p.args, states: p.opts.states });
    default:
      return newOutput();
  }
}

export async function systemctlMain(argv: string[], paths: LabPaths, io: CliIO): Promise<number> {
  const parsed = parseSystemctlArgs([...argv]);
  if ('exit' in parsed) {
    if (parsed.out) io.out(parsed.out);
    if (parsed.err) io.err(parsed.err);
    return parsed.exit;
  }
  const print = (o: Output) => {
    if (o.out.length) io.out(o.out.join('\n') + '\n');
    if (o.err.length) io.err(o.err.join('\n'));
  };
  let res;
  try {
    res = await callDaemon(paths.socket, { ...parsed, uid: process.getuid?.() ?? 0 });
  } catch (err) {
    io.err(`Failed to connect to bus: ${(err as Error).message}`);
    return 1;
  }
  if (res) {
    print(res);
    return res.code;
  }
  // not booted
  if (VERBS[parsed.verb].offline) {
    const o = offline(paths, parsed);
    if (parsed.opts.quiet) o.err = o.err.filter((l) => !/^(Created symlink|Removed)/.test(l));
    print(o);
    if (o.code !== 0 || !parsed.opts.now || !['enable', 'disable', 'reenable', 'mask'].includes(parsed.verb))
      return o.code;
  }
  io.err(NOT_BOOTED.join('\n'));
  return 1;
}
