import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { temporalConfig, workflowUiLink, type TemporalConfig } from './config';
import { InventorySchema, type Inventory } from './inventory';
import { migrateVmInputFor } from './migration/from-inventory';
import { parseMigrateVmInput, type MigrateVmInput } from './migration/input';
import {
  approveUpdate,
  recordQuery,
  rejectUpdate,
  statusQuery,
  type DecisionAnswer,
  type MigrationPhase,
  type MigrationStatus,
} from './migration/messages';
import { shellCommand } from './remote/shell-quote';
import { MigrationPhaseAttribute, VmIdAttribute } from './search-attributes';
import { connectivityCheck, migrateVm } from './workflows';

interface CommandContext {
  config: TemporalConfig;
  args: string[];
  json: boolean;
  options: CliOptions;
}

interface CliOptions {
  inventory?: string;
  by?: string;
  reason?: string;
  wait?: boolean;
}

const migrationId = (vmid: number) => `migrate-vm-${vmid}`;
const finalPhases: MigrationPhase[] = ['completed', 'rolled-back', 'failed', 'planned'];

function vmidArgument(args: string[]): number {
  const vmid = Number(args[0]);
  if (!Number.isInteger(vmid) || vmid < 100) throw new Error(`a vmid is needed, e.g. 105 (got '${args[0] ?? ''}')`);
  return vmid;
}

function readInventory(options: CliOptions): Inventory {
  const path = options.inventory ?? process.env.OPENCLAW_INVENTORY;
  if (!path)
    throw new Error(
      '--inventory FILE (or OPENCLAW_INVENTORY) is needed: the lab writes one, `npm run lab -- status` says where',
    );
  const parsed = InventorySchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`bad inventory ${path}:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

/** Shows each phase as the run enters it, until it waits for a human or ends. */
async function follow(handle: WorkflowHandle<typeof migrateVm>, json: boolean): Promise<MigrationStatus> {
  let last: MigrationPhase | undefined;
  for (;;) {
    const status = await handle.query(statusQuery);
    if (status.phase !== last && !json)
      console.log(`${new Date().toISOString().slice(11, 19)}  vm ${status.vmid}: ${status.phase}`);
    last = status.phase;
    if (status.phase === 'awaiting-approval' || finalPhases.includes(status.phase)) return status;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function startMigration(
  config: TemporalConfig,
  client: Client,
  input: MigrateVmInput,
): Promise<WorkflowHandle<typeof migrateVm>> {
  const params = parseMigrateVmInput(input);
  const workflowId = migrationId(params.vmid);
  console.error(
    `equivalent: temporal workflow start --type migrateVm --task-queue ${config.taskQueue} --workflow-id ${workflowId} ` +
      `--search-attribute 'VmId="${params.vmid}"' --input ${shellCommand([JSON.stringify(input)])}`,
  );
  console.error(`UI: ${workflowUiLink(config, workflowId)}`);
  return client.workflow.start(migrateVm, {
    taskQueue: config.taskQueue,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: VmIdAttribute, value: String(params.vmid) },
      { key: MigrationPhaseAttribute, value: 'starting' },
    ],
  });
}

function decisionCommand(approve: boolean): Command {
  const verb = approve ? 'approve' : 'reject';
  return {
    summary: `${verb} a migration that awaits a human: ${verb} <vmid> [--by NAME] [--reason TEXT]`,
    async run({ config, args, json, options }) {
      const vmid = vmidArgument(args);
      const decision = {
        by: options.by ?? userInfo().username,
        reason: options.reason ?? (approve ? 'accepted' : 'rejected'),
      };
      console.error(
        `equivalent: temporal workflow signal --workflow-id ${migrationId(vmid)} --name ${verb} --input ${shellCommand([JSON.stringify(decision)])}`,
      );
      const answer = await withClient(config, async (client): Promise<DecisionAnswer> => {
        const handle = client.workflow.getHandle<typeof migrateVm>(migrationId(vmid));
        const { status } = await handle.describe();
        if (status.name !== 'RUNNING') {
          return { accepted: false, reason: `the run has ended (${status.name.toLowerCase()})`, phase: 'completed' };
        }
        return handle.executeUpdate(approve ? approveUpdate : rejectUpdate, { args: [decision] });
      });
      if (json) console.log(JSON.stringify(answer));
      else
        console.log(
          answer.accepted ? `vm ${vmid}: ${verb}d by ${decision.by}` : `vm ${vmid}: not taken: ${answer.reason}`,
        );
      if (!answer.accepted) process.exitCode = 3;
    },
  };
}

interface Command {
  summary: string;
  run(context: CommandContext): Promise<void>;
}

async function withClient<T>(config: TemporalConfig, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: config.address, connectTimeout: '5 seconds' }).catch(
    (err: unknown) => {
      throw new Error(
        `Cannot reach the Temporal server at ${config.address} (${err instanceof Error ? err.message : err}).\n` +
          'Start one with ./temporal-dev.sh, or point TEMPORAL_ADDRESS at yours.',
      );
    },
  );
  try {
    return await use(new Client({ connection, namespace: config.namespace }));
  } finally {
    await connection.close();
  }
}

const commands: Record<string, Command> = {
  check: {
    summary: 'run a round trip through the server and a worker (is a worker polling the task queue?)',
    async run({ config, json }) {
      const workflowId = `connectivity-check-${Date.now()}`;
      console.error(
        `equivalent: temporal workflow execute --type connectivityCheck --task-queue ${config.taskQueue} --workflow-id ${workflowId}`,
      );
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
  summary: 'dry run for one VM: scan it (read-only) and print every command each phase would run: plan <vmid>',
  async run({ config, args, json, options }) {
    const input = migrateVmInputFor(readInventory(options), vmidArgument(args), { dryRun: true });
    const result = await withClient(config, async (client) => (await startMigration(config, client, input)).result());
    if (json) console.log(JSON.stringify(result.status.plan));
    else for (const step of result.status.plan ?? []) console.log(`# ${step.phase}\n${step.command}\n`);
  },
};

commands.migrate = {
  summary: 'start the migration of one VM: migrate vm <vmid> [--wait] (follows it until it awaits approval)',
  async run({ config, args, json, options }) {
    if (args[0] !== 'vm') throw new Error("migrate vm <vmid> (the fleet comes with 'migrate fleet')");
    const input = migrateVmInputFor(readInventory(options), vmidArgument(args.slice(1)));
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
  summary: 'phase of every migration, or one in detail: status [<vmid>]',
  async run({ config, args, json }) {
    await withClient(config, async (client) => {
      if (args.length > 0) {
        const status = await client.workflow.getHandle(migrationId(vmidArgument(args))).query(statusQuery);
        if (json) console.log(JSON.stringify(status));
        else {
          console.log(
            `vm ${status.vmid}: ${status.phase}${status.waitingFor ? `, waiting for ${status.waitingFor}` : ''}`,
          );
          for (const phase of status.phases)
            console.log(
              `  ${phase.name.padEnd(40)} ${phase.status.padEnd(8)} ${phase.startedAt} ${phase.endedAt ?? ''}`,
            );
          for (const problem of status.problems) console.log(`  problem: ${problem}`);
        }
        return;
      }
      console.error(`equivalent: temporal workflow list --query "WorkflowType='migrateVm'"`);
      const rows: { workflowId: string; status: string; phase: string }[] = [];
      for await (const run of client.workflow.list({ query: `WorkflowType='migrateVm'` })) {
        const phase = run.typedSearchAttributes.get(MigrationPhaseAttribute) ?? '';
        rows.push({ workflowId: run.workflowId, status: run.status.name, phase });
      }
      if (json) console.log(JSON.stringify(rows));
      else for (const row of rows) console.log(`${row.workflowId.padEnd(22)} ${row.status.padEnd(12)} ${row.phase}`);
    });
  },
};

commands.approve = decisionCommand(true);
commands.reject = decisionCommand(false);

commands.record = {
  summary: "print a migration's record (Markdown): record <vmid>",
  async run({ config, args }) {
    const vmid = vmidArgument(args);
    console.error(`equivalent: temporal workflow query --workflow-id ${migrationId(vmid)} --name record`);
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
    '  --inventory FILE  the fleet inventory (default $OPENCLAW_INVENTORY)',
    '  --by NAME         who approves or rejects (default: your user name)',
    '  --reason TEXT     why',
    '  --wait            follow the run until it awaits approval or ends',
    '  --json            machine-readable output',
    '  -h, --help        this text',
    '',
    'environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),',
    '             TEMPORAL_TASK_QUEUE (openclaw-migrate), TEMPORAL_UI_URL (http://127.0.0.1:8233)',
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      json: { type: 'boolean' },
      inventory: { type: 'string' },
      by: { type: 'string' },
      reason: { type: 'string' },
      wait: { type: 'boolean' },
    },
  });
  const [name, ...args] = positionals;
  if (values.help || name === undefined || name === 'help') {
    console.log(usage());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const { inventory, by, reason, wait } = values;
  await command.run({
    config: temporalConfig(),
    args,
    json: values.json ?? false,
    options: { inventory, by, reason, wait },
  });
  return 0;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`error: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    },
  );
}
