import { userInfo } from 'node:os';
import { temporalConfig } from '../config';
import { InputRefused, printable } from '../schema';
import { decisionFrom, exitCodes, type Command, type CommandContext, type ExitCode } from './common';
import { flagsUsage, parseCommandLine } from './flags';
import { fleetDecisionCommand, gateCommand, migrateFleetCommand, planFleetCommand, showFleetStatus } from './fleet';
import {
  checkCommand,
  listMigrationsCommand,
  migrateVmCommand,
  planVmCommand,
  recordCommand,
  vmDecisionCommand,
  vmStatusCommand,
} from './vm';
import { discoverCommand } from './discover';

function decisionCommand(approve: boolean): Command {
  const verb = approve ? 'approve' : 'reject';
  return {
    summary: `${verb} migrations that await a human: ${verb} <vmid>… , or every one of the fleet: ${verb} [--fleet NAME]`,
    run(context) {
      const decision = decisionFrom(context.options, userInfo().username, approve ? 'accepted' : 'rejected');
      return context.args.length === 0
        ? fleetDecisionCommand(context, approve, decision)
        : vmDecisionCommand(context, approve, decision);
    },
  };
}

const commands: Record<string, Command> = {
  check: {
    summary: 'run a round trip through the server and a worker (is a worker polling the task queue?)',
    run: checkCommand,
  },
  plan: {
    summary:
      'dry run: scan (read-only) and print every command each phase would run, for one VM or the inventory: plan [<vmid>]',
    run: (context) => (context.args.length === 0 ? planFleetCommand(context) : planVmCommand(context)),
  },
  migrate: {
    summary:
      'migrate vm <vmid> [--wait]: one VM; migrate fleet [--yes] [--detach]: the inventory, with progress until it waits for you',
    run(context) {
      const [what, ...args] = context.args;
      if (what === 'fleet') return migrateFleetCommand(context);
      if (what === 'vm') return migrateVmCommand({ ...context, args });
      throw new InputRefused(`migrate vm <vmid> | migrate fleet (got '${printable(what ?? '')}')`);
    },
  },
  status: {
    summary: 'the fleet as a table (--watch refreshes it), or without a fleet every migration; one VM: status <vmid>',
    async run(context) {
      if (context.args.length > 0) return vmStatusCommand(context);
      return (await showFleetStatus(context)) ? exitCodes.ok : listMigrationsCommand(context);
    },
  },
  discover: discoverCommand,
  approve: decisionCommand(true),
  reject: decisionCommand(false),
  gate: {
    summary: "open or close the fleet's Docker-removal gate: gate open|close [--fleet NAME] [--by] [--reason]",
    run: gateCommand,
  },
  record: { summary: "print a migration's record (Markdown): record <vmid>", run: recordCommand },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  return [
    'usage: openclaw-migrate <command> [options]',
    '',
    'Moves OpenClaw VMs from Docker to the direct (systemd) install as durable Temporal workflows.',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    '',
    'options:',
    ...flagsUsage(),
    '',
    'environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),',
    '             TEMPORAL_TASK_QUEUE (openclaw-migrate), TEMPORAL_UI_URL (http://127.0.0.1:8233)',
  ].join('\n');
}

/** Runs one command line; answers its exit code. Throws what the command could not do. */
export async function runCli(argv: string[]): Promise<ExitCode> {
  const { options, positionals } = parseCommandLine(argv);
  const [name, ...args] = positionals;
  if (options.help || name === undefined || name === 'help') {
    console.log(usage());
    return exitCodes.ok;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    console.error(`unknown command '${printable(name)}'\n\n${usage()}`);
    return exitCodes.refused;
  }
  const context: CommandContext = { config: temporalConfig(), args, options };
  return command.run(context);
}

/** The process: runs the command line and exits with its code; refused input exits 2, having started nothing. */
export function main(argv: string[]): void {
  runCli(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`error: ${err instanceof Error ? err.message : err}`);
      process.exit(err instanceof InputRefused ? exitCodes.refused : exitCodes.failed);
    },
  );
}
