import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { temporalConfig, workflowUiLink, type TemporalConfig } from './config';
import {
  asRefusal,
  clock,
  decisionFrom,
  startedBy,
  equivalent,
  outageLine,
  readInventory,
  sleep,
  vmidArguments,
  withClient,
  type CliOptions,
  type Command,
} from './cli/common';
import {
  fleetDecisionCommand,
  fleetStatusCommand,
  gateCommand,
  migrateFleetCommand,
  planFleetCommand,
} from './cli/fleet';
import { discoverCommand } from './cli/discover';
import { migrateVmInputFor, type VmOverrides } from './migration/from-inventory';
import { parseMigrateVmInput, type MigrateVmInput } from './migration/input';
import {
  approveUpdate,
  migrationId,
  planId,
  recordQuery,
  rejectUpdate,
  statusQuery,
  type DecisionAnswer,
  type MigrationPhase,
  type MigrationStatus,
} from './migration/messages';
import { migrationSummary } from './migration/ui-metadata';
import { InputRefused, nearestKey, printable } from './schema';
import { MigrationPhaseAttribute, VmIdAttribute } from './search-attributes';
import { connectivityCheck, migrateVm } from './workflows';

const finalPhases: MigrationPhase[] = ['completed', 'rolled-back', 'failed', 'planned'];

/** Shows each phase as the run enters it, until it waits for a human or ends. */
async function follow(handle: WorkflowHandle<typeof migrateVm>, json: boolean): Promise<MigrationStatus> {
  let last: MigrationPhase | undefined;
  for (;;) {
    const status = await handle.query(statusQuery);
    if (status.phase !== last && !json) console.log(`${clock()}  vm ${status.vmid}: ${status.phase}`);
    last = status.phase;
    if (status.phase === 'awaiting-approval' || finalPhases.includes(status.phase)) return status;
    await sleep(1000);
  }
}

/** One VM's input from the inventory, checked whole before the CLI contacts the server. */
async function vmInput(
  options: CliOptions,
  vmid: number,
  overrides: VmOverrides = {},
): Promise<{ input: MigrateVmInput; name?: string }> {
  const inventory = await readInventory(options);
  // every run the CLI starts says who started it: four eyes compare its approver with this
  const input = migrateVmInputFor(inventory, vmid, { startedBy: startedBy(options), ...overrides });
  asRefusal(() => parseMigrateVmInput(input));
  return { input, name: inventory.vms.find((vm) => vm.vmid === vmid)?.name };
}

async function startMigration(
  config: TemporalConfig,
  client: Client,
  { input, name }: { input: MigrateVmInput; name?: string },
): Promise<WorkflowHandle<typeof migrateVm>> {
  const params = parseMigrateVmInput(input);
  const workflowId = params.dryRun ? planId(params.vmid) : migrationId(params.vmid);
  equivalent(
    [
      'start',
      '--type',
      'migrateVm',
      '--task-queue',
      config.taskQueue,
      '--workflow-id',
      workflowId,
      '--search-attribute',
      `VmId="${params.vmid}"`,
      '--input',
      JSON.stringify(input),
    ],
    config,
    workflowId,
  );
  return client.workflow.start(migrateVm, {
    taskQueue: config.taskQueue,
    workflowId,
    args: [input],
    staticSummary: migrationSummary({ vmid: params.vmid, name, dryRun: params.dryRun }),
    typedSearchAttributes: [
      { key: VmIdAttribute, value: String(params.vmid) },
      { key: MigrationPhaseAttribute, value: 'starting' },
    ],
  });
}

function decisionCommand(approve: boolean): Command {
  const verb = approve ? 'approve' : 'reject';
  return {
    summary: `${verb} migrations that await a human: ${verb} <vmid>… , or every one of the fleet: ${verb} [--fleet NAME]`,
    async run(context) {
      const { config, args, json, options } = context;
      const decision = decisionFrom(options, userInfo().username, approve ? 'accepted' : 'rejected');
      if (args.length === 0) return fleetDecisionCommand(context, approve, decision);
      for (const vmid of vmidArguments(args)) {
        equivalent(
          ['signal', '--workflow-id', migrationId(vmid), '--name', verb, '--input', JSON.stringify(decision)],
          config,
          migrationId(vmid),
        );
        const answer = await withClient(config, async (client): Promise<DecisionAnswer> => {
          const handle = client.workflow.getHandle<typeof migrateVm>(migrationId(vmid));
          const { status } = await handle.describe();
          if (status.name !== 'RUNNING') {
            return { accepted: false, reason: `the run has ended (${status.name.toLowerCase()})`, phase: 'completed' };
          }
          return handle.executeUpdate(approve ? approveUpdate : rejectUpdate, { args: [decision] });
        });
        if (json) console.log(JSON.stringify({ vmid, ...answer }));
        else
          console.log(
            answer.accepted
              ? `vm ${vmid}: ${verb}d by ${decision.by}`
              : `vm ${vmid}: not taken: ${printable(answer.reason ?? '')}`,
          );
        if (!answer.accepted) process.exitCode = 3;
      }
    },
  };
}

const commands: Record<string, Command> = {
  check: {
    summary: 'run a round trip through the server and a worker (is a worker polling the task queue?)',
    async run({ config, json }) {
      const workflowId = `connectivity-check-${Date.now()}`;
      equivalent([
        'execute',
        '--type',
        'connectivityCheck',
        '--task-queue',
        config.taskQueue,
        '--workflow-id',
        workflowId,
      ]);
      const report = await withClient(config, (client) =>
        client.workflow.execute(connectivityCheck, {
          taskQueue: config.taskQueue,
          workflowId,
          // A check must not wait forever when no worker polls: fail fast with a hint instead.
          workflowExecutionTimeout: '60 seconds',
        }),
      ).catch((err: unknown) => {
        throw new Error(
          `${err instanceof Error ? err.message : err}\nIs a worker running on task queue '${config.taskQueue}'? Start one with: npm run worker`,
        );
      });
      if (json) {
        console.log(JSON.stringify(report));
      } else {
        console.log(
          `ok: worker ${report.worker.hostname} pid ${report.worker.pid} (node ${report.worker.nodeVersion}) answered on '${report.worker.taskQueue}'`,
        );
        console.log(`see it in the UI: ${workflowUiLink(config, workflowId)}`);
      }
    },
  },
};

commands.plan = {
  summary:
    'dry run: scan (read-only) and print every command each phase would run, for one VM or the inventory: plan [<vmid>]',
  async run(context) {
    const { config, args, json, options } = context;
    if (args.length === 0) return planFleetCommand(context);
    const [vmid] = vmidArguments(args);
    const input = await vmInput(options, vmid, { dryRun: true, ...(options.prestage && { prestage: true }) });
    const result = await withClient(config, async (client) => (await startMigration(config, client, input)).result());
    if (json) console.log(JSON.stringify(result.status.plan));
    else for (const step of result.status.plan ?? []) console.log(`# ${step.phase}\n${step.command}\n`);
  },
};

commands.migrate = {
  summary:
    'migrate vm <vmid> [--wait]: one VM; migrate fleet [--yes] [--detach]: the inventory, with progress until it waits for you',
  async run(context) {
    const { config, args, json, options } = context;
    if (args[0] === 'fleet') return migrateFleetCommand(context);
    if (args[0] !== 'vm') throw new Error(`migrate vm <vmid> | migrate fleet (got '${args[0] ?? ''}')`);
    const [vmid] = vmidArguments(args.slice(1));
    const input = await vmInput(options, vmid, {
      ...(options.removeImages && { removeImages: true }),
      ...(options.prestage && { prestage: true }),
    });
    await withClient(config, async (client) => {
      const handle = await startMigration(config, client, input);
      if (!options.wait) return;
      const status = await follow(handle, json);
      if (json) console.log(JSON.stringify(status));
      else if (status.phase === 'awaiting-approval')
        console.log(`vm ${status.vmid} awaits approval: npm run starter -- approve ${status.vmid}`);
    });
  },
};

commands.status = {
  summary: 'the fleet as a table (--watch refreshes it), or without a fleet every migration; one VM: status <vmid>',
  async run(context) {
    const { config, args, json } = context;
    if (args.length > 0) {
      const [vmid] = vmidArguments(args);
      equivalent(['query', '--workflow-id', migrationId(vmid), '--name', 'status'], config, migrationId(vmid));
      const status = await withClient(config, (client) =>
        client.workflow.getHandle(migrationId(vmid)).query(statusQuery),
      );
      if (json) console.log(JSON.stringify(status));
      else {
        console.log(
          `vm ${status.vmid}: ${status.phase}${status.waitingFor ? `, waiting for ${printable(status.waitingFor)}` : ''}`,
        );
        for (const phase of status.phases)
          console.log(`  ${phase.name.padEnd(40)} ${phase.status.padEnd(8)} ${phase.startedAt} ${phase.endedAt ?? ''}`);
        if (status.outage) console.log(outageLine(status.outage));
        for (const problem of status.problems) console.log(`  problem: ${printable(problem)}`);
      }
      return;
    }
    if (await fleetStatusCommand(context)) return;
    equivalent(['list', '--query', "WorkflowType='migrateVm'"]);
    const rows: { workflowId: string; status: string; phase: string }[] = [];
    await withClient(config, async (client) => {
      for await (const run of client.workflow.list({ query: `WorkflowType='migrateVm'` })) {
        const phase = run.typedSearchAttributes.get(MigrationPhaseAttribute) ?? '';
        rows.push({ workflowId: run.workflowId, status: run.status.name, phase });
      }
    });
    if (json) console.log(JSON.stringify(rows));
    else for (const row of rows) console.log(`${row.workflowId.padEnd(22)} ${row.status.padEnd(12)} ${row.phase}`);
  },
};

commands.discover = discoverCommand;

commands.approve = decisionCommand(true);
commands.reject = decisionCommand(false);

commands.gate = {
  summary: "open or close the fleet's Docker-removal gate: gate open|close [--fleet NAME] [--by] [--reason]",
  run: gateCommand,
};

commands.record = {
  summary: "print a migration's record (Markdown): record <vmid>",
  async run({ config, args }) {
    const [vmid] = vmidArguments(args);
    equivalent(['query', '--workflow-id', migrationId(vmid), '--name', 'record'], config, migrationId(vmid));
    const record = await withClient(config, (client) =>
      client.workflow.getHandle(migrationId(vmid)).query(recordQuery),
    ).catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) throw new Error(`no migration of vm ${vmid} on this server`);
      throw err;
    });
    if (record === null) throw new Error(`vm ${vmid}'s record is written when its run ends`);
    console.log(record);
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return [
    'usage: openclaw-migrate <command> [options]',
    '',
    'Moves OpenClaw VMs from Docker to the direct (systemd) install as durable Temporal workflows.',
    '',
    'commands:',
    ...lines,
    '',
    'options:',
    '  --inventory FILE          the fleet inventory, YAML or JSON (default $OPENCLAW_INVENTORY)',
    '  --fleet NAME              which fleet (workflow migrate-fleet-NAME; default: default)',
    '  --concurrency N           migrations in flight at once (default 2; the SOP allows 3 at most)',
    '  --allow-concurrency-above-sop  let --concurrency go above 3',
    '  --canary N                VMs migrated one at a time, and completed, before the fleet fans out (default 1)',
    '  --failure-budget N        start no VM after N failures, rollbacks or rejections (default 1)',
    '  --yes                     approve each VM of the fleet once it passes its acceptance checks',
    '  --detach                  start the fleet and return',
    '  --remove-images           migrate: phase I (after approval) removes the OpenClaw images too',
    '  --prestage                migrate, plan: install, pre-copy, panel and units while Docker runs; Docker stops',
    "                            only for the final copy and the start (default: the SOP order, or the inventory's)",
    '  --by NAME                 who approves, rejects or sets the gate (default: your user name)',
    '  --reason TEXT             why',
    '  --wait                    migrate vm: follow the run until it awaits approval or ends',
    '  --watch                   status: redraw until the fleet ends',
    "  --node NAME --out FILE    discover: one of the inventory's nodes; the inventory to write (inventory.discovered.yaml)",
    "  --tag                     discover: write each VM's state as a Proxmox tag (qm set --tags, other tags kept)",
    '  --json                    machine-readable output',
    '  -h, --help                this text',
    '',
    'environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),',
    '             TEMPORAL_TASK_QUEUE (openclaw-migrate), TEMPORAL_UI_URL (http://127.0.0.1:8233)',
  ].join('\n');
}

function count(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d{1,7}$/.test(value) || n < min)
    throw new InputRefused(`--${name} must be a whole number of at least ${min} (got '${value}')`);
  return n;
}

const flags = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  inventory: { type: 'string' },
  fleet: { type: 'string' },
  concurrency: { type: 'string' },
  'allow-concurrency-above-sop': { type: 'boolean' },
  canary: { type: 'string' },
  'failure-budget': { type: 'string' },
  yes: { type: 'boolean' },
  detach: { type: 'boolean' },
  'remove-images': { type: 'boolean' },
  prestage: { type: 'boolean' },
  by: { type: 'string' },
  reason: { type: 'string' },
  wait: { type: 'boolean' },
  watch: { type: 'boolean' },
  node: { type: 'string' },
  out: { type: 'string' },
  tag: { type: 'boolean' },
} as const;

/** The command line, or a refusal naming the flag and the nearest known one. */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options: flags });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const unknown = /Unknown option '-*([^']*)'/.exec(message)?.[1];
    const nearest = unknown === undefined ? undefined : nearestKey(unknown, Object.keys(flags));
    throw new InputRefused(`${printable(message)}${nearest ? ` (did you mean '--${nearest}'?)` : ''}`);
  }
}

export async function runCli(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  const [name, ...args] = positionals;
  if (values.help || name === undefined || name === 'help') {
    console.log(usage());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command '${printable(name)}'\n\n${usage()}`);
    return 2;
  }
  const fleet = values.fleet ?? 'default';
  if (!/^[\w.-]{1,100}$/.test(fleet))
    throw new InputRefused(`--fleet must be a name of letters, digits, '.', '_' or '-' (got '${printable(fleet)}')`);
  await command.run({
    config: temporalConfig(),
    args,
    json: values.json ?? false,
    options: {
      inventory: values.inventory,
      fleet,
      concurrency: count('concurrency', values.concurrency, 1),
      allowConcurrencyAboveSop: values['allow-concurrency-above-sop'],
      canary: count('canary', values.canary, 0),
      failureBudget: count('failure-budget', values['failure-budget'], 1),
      yes: values.yes,
      detach: values.detach,
      removeImages: values['remove-images'],
      prestage: values.prestage,
      by: values.by,
      reason: values.reason,
      wait: values.wait,
      watch: values.watch,
      node: values.node,
      out: values.out,
      tag: values.tag,
    },
  });
  // commands set exitCode 3 when a decision was not taken
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`error: ${err instanceof Error ? err.message : err}`);
      // refused input started nothing and contacted no server
      process.exit(err instanceof InputRefused ? 2 : 1);
    },
  );
}
