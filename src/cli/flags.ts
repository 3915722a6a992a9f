import { parseArgs } from 'node:util';
import { InputRefused, nearestKey, printable } from '../schema';

/** One flag of the command line: how node:util's parseArgs reads it, what the usage says, what the option holds. */
interface Flag {
  type: 'boolean' | 'string';
  short?: string;
  /** what the usage text calls a string flag's value */
  value?: string;
  /** the usage text; a second line goes under the first */
  help: string;
  /** the option's value from the flag's text, or a refusal naming the flag (exit 2) */
  parse?: (text: string, flag: string) => unknown;
  /** the flag's text when it is not given */
  default?: string;
}

/** A whole number of at least `min`. */
const count =
  (min: number) =>
  (text: string, flag: string): number => {
    if (!/^\d{1,7}$/.test(text) || Number(text) < min)
      throw new InputRefused(`${flag} must be a whole number of at least ${min} (got '${printable(text)}')`);
    return Number(text);
  };

function fleetName(text: string, flag: string): string {
  if (!/^[\w.-]{1,100}$/.test(text))
    throw new InputRefused(`${flag} must be a name of letters, digits, '.', '_' or '-' (got '${printable(text)}')`);
  return text;
}

/** Every flag of the CLI, once: the parser, the usage text and the type of the options all come from this table. */
const flags = {
  inventory: {
    type: 'string',
    value: 'FILE',
    help: 'the fleet inventory, YAML or JSON (default $OPENCLAW_INVENTORY)',
  },
  fleet: {
    type: 'string',
    value: 'NAME',
    help: 'which fleet (workflow migrate-fleet-NAME; default: default)',
    parse: fleetName,
    default: 'default',
  },
  concurrency: {
    type: 'string',
    value: 'N',
    help: 'migrations in flight at once (default 2; the SOP allows 3 at most)',
    parse: count(1),
  },
  allowConcurrencyAboveSop: { type: 'boolean', help: 'let --concurrency go above 3' },
  canary: {
    type: 'string',
    value: 'N',
    help: 'VMs migrated one at a time, and completed, before the fleet fans out (default 1)',
    parse: count(0),
  },
  failureBudget: {
    type: 'string',
    value: 'N',
    help: 'start no VM after N failures, rollbacks or rejections (default 1)',
    parse: count(1),
  },
  yes: { type: 'boolean', help: 'approve each VM of the fleet once it passes its acceptance checks' },
  detach: { type: 'boolean', help: 'start the fleet and return' },
  removeImages: { type: 'boolean', help: 'migrate: phase I (after approval) removes the OpenClaw images too' },
  prestage: {
    type: 'boolean',
    help:
      'migrate, plan: install, pre-copy, panel and units while Docker runs; Docker stops\n' +
      "only for the final copy and the start (default: the SOP order, or the inventory's)",
  },
  prestageAhead: {
    type: 'string',
    value: 'N',
    help:
      'migrate with --prestage: up to N VMs more pre-stage while others cut over; --concurrency\n' +
      'then bounds only the VMs between C and their end (default 0)',
    parse: count(0),
  },
  by: { type: 'string', value: 'NAME', help: 'who approves, rejects or sets the gate (default: your user name)' },
  reason: { type: 'string', value: 'TEXT', help: 'why' },
  wait: { type: 'boolean', help: 'migrate vm: follow the run until it awaits approval or ends' },
  watch: { type: 'boolean', help: 'status: redraw until the fleet ends' },
  node: { type: 'string', value: 'NAME', help: "discover: one of the inventory's nodes (default: every node)" },
  out: {
    type: 'string',
    value: 'FILE',
    help: 'discover: the inventory of the Docker-era VMs to write',
    default: 'inventory.discovered.yaml',
  },
  tag: { type: 'boolean', help: "discover: write each VM's state as a Proxmox tag (qm set --tags, other tags kept)" },
  json: { type: 'boolean', help: 'machine-readable output' },
  help: { type: 'boolean', short: 'h', help: 'this text' },
} as const satisfies Record<string, Flag>;

type Flags = typeof flags;
type ValueOf<F> = F extends { parse: (text: string, flag: string) => infer T }
  ? T
  : F extends { type: 'boolean' }
    ? boolean
    : string;
/** The command line's options, by the table: a flag with a default always has a value. */
export type CliOptions = {
  [K in keyof Flags]: Flags[K] extends { default: string } ? ValueOf<Flags[K]> : ValueOf<Flags[K]> | undefined;
};

/** `failureBudget` → `failure-budget` */
const flagName = (key: string) => key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
const table = Object.entries(flags) as [keyof Flags, Flag][];

/** The options part of the usage text. */
export function flagsUsage(): string[] {
  return table.flatMap(([key, flag]) => {
    const head = `${flag.short ? `-${flag.short}, ` : ''}--${flagName(key)}${flag.value ? ` ${flag.value}` : ''}`;
    const [first, ...more] = flag.help.split('\n');
    return [`  ${head.padEnd(24)}  ${first}`, ...more.map((line) => `${' '.repeat(28)}${line}`)];
  });
}

/** The command line's options and words, or a refusal naming the flag (and the nearest known one) or its value. */
export function parseCommandLine(argv: string[]): { options: CliOptions; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        table.map(([key, { type, short }]) => [flagName(key), { type, ...(short !== undefined && { short }) }]),
      ),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const unknown = /Unknown option '-*([^']*)'/.exec(message)?.[1];
    const nearest =
      unknown === undefined
        ? undefined
        : nearestKey(
            unknown,
            table.map(([key]) => flagName(key)),
          );
    throw new InputRefused(`${printable(message)}${nearest ? ` (did you mean '--${nearest}'?)` : ''}`);
  }
  const { values, positionals } = parsed;
  const options = Object.fromEntries(
    table.map(([key, flag]) => {
      const given = values[flagName(key)] ?? flag.default;
      return [key, typeof given === 'string' && flag.parse ? flag.parse(given, `--${flagName(key)}`) : given];
    }),
  ) as CliOptions;
  return { options, positionals };
}
