import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { workflowUiLink, type TemporalConfig } from '../config';
import { migrateVmInputFor, type VmOverrides } from '../migration/from-inventory';
import { parseMigrateVmInput, type MigrateVmInput } from '../migration/input';
import {
  approveUpdate,
  migrationId,
  planId,
  recordQuery,
  rejectUpdate,
  statusQuery,
  type Decision,
  type DecisionAnswer,
  type MigrationStatus,
} from '../migration/messages';
import { migrationSummary } from '../migration/ui-metadata';
import { printable } from '../schema';
import { MigrationPhaseAttribute, NodeNameAttribute, VmIdAttribute } from '../search-attributes';
import { connectivityCheck, migrateVm } from '../workflows';
import {
  asRefusal,
  clock,
  printTemporalEquivalent,
  exitCodes,
  hasEnded,
  outageLine,
  readInventory,
  sleep,
  startedBy,
  vmidArguments,
  withClient,
  type CommandContext,
  type ExitCode,
} from './common';
import type { CliOptions } from './flags';

/**
 * Shows each phase as the run enters it, until it waits for a human or its maintenance window, or ends. The steps
 * come from the run's own list of them, so a step shorter than the poll is shown too; waits only from its phase.
 */
async function follow(handle: WorkflowHandle<typeof migrateVm>, json: boolean): Promise<MigrationStatus> {
  let shown: string | undefined;
  let stepsShown = 0;
  const show = (name: string, vmid: number) => {
    if (name !== shown && !json) console.log(`${clock()}  vm ${vmid}: ${name}`);
    shown = name;
  };
  for (;;) {
    const status = await handle.query(statusQuery);
    for (const step of status.phases.slice(stepsShown)) show(step.name, status.vmid);
    stepsShown = status.phases.length;
    show(status.phase, status.vmid);
    if (status.phase === 'awaiting-approval' || status.phase === 'awaiting-window' || hasEnded(status.phase))
      return status;
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
  printTemporalEquivalent(
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
    staticSummary: migrationSummary({ vmid: params.vmid, name, node: params.nodeName, dryRun: params.dryRun }),
    typedSearchAttributes: [
      { key: VmIdAttribute, value: String(params.vmid) },
      { key: MigrationPhaseAttribute, value: 'starting' },
    ],
  });
}

/** A round trip through the server and a worker. */
export async function checkCommand({ config, options }: CommandContext): Promise<ExitCode> {
  const workflowId = `connectivity-check-${Date.now()}`;
  printTemporalEquivalent([
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
  if (options.json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(
      `ok: worker ${report.worker.hostname} pid ${report.worker.pid} (node ${report.worker.nodeVersion}) answered on '${report.worker.taskQueue}'`,
    );
    console.log(`see it in the UI: ${workflowUiLink(config, workflowId)}`);
  }
  return exitCodes.ok;
}

/** One VM's dry run: its plan, every command each phase would run. */
export async function planVmCommand({ config, args, options }: CommandContext): Promise<ExitCode> {
  const [vmid] = vmidArguments(args);
  const input = await vmInput(options, vmid, { dryRun: true, ...(options.prestage && { prestage: true }) });
  const result = await withClient(config, async (client) => (await startMigration(config, client, input)).result());
  if (options.json) console.log(JSON.stringify(result.status.plan));
  else for (const step of result.status.plan ?? []) console.log(`# ${step.phase}\n${step.command}\n`);
  return exitCodes.ok;
}

/** `migrate vm <vmid>`: starts one VM's migration, and with --wait follows it. */
export async function migrateVmCommand({ config, args, options }: CommandContext): Promise<ExitCode> {
  const [vmid] = vmidArguments(args);
  const input = await vmInput(options, vmid, {
    ...(options.removeImages && { removeImages: true }),
    ...(options.prestage && { prestage: true }),
  });
  await withClient(config, async (client) => {
    const handle = await startMigration(config, client, input);
    if (!options.wait) return;
    const status = await follow(handle, options.json ?? false);
    if (options.json) console.log(JSON.stringify(status));
    else if (status.phase === 'awaiting-approval')
      console.log(`vm ${status.vmid} awaits approval: npm run starter -- approve ${status.vmid}`);
    else if (status.phase === 'awaiting-window') console.log(`vm ${status.vmid} waits for ${status.waitingFor}`);
  });
  return exitCodes.ok;
}

/** One VM's status: its phases, outage and problems. */
export async function vmStatusCommand({ config, args, options }: CommandContext): Promise<ExitCode> {
  const [vmid] = vmidArguments(args);
  printTemporalEquivalent(['query', '--workflow-id', migrationId(vmid), '--name', 'status'], config, migrationId(vmid));
  const status = await withClient(config, (client) => client.workflow.getHandle(migrationId(vmid)).query(statusQuery));
  if (options.json) console.log(JSON.stringify(status));
  else {
    console.log(
      `vm ${status.vmid}: ${status.phase}${status.waitingFor ? `, waiting for ${printable(status.waitingFor)}` : ''}`,
    );
    for (const phase of status.phases)
      console.log(`  ${phase.name.padEnd(40)} ${phase.status.padEnd(8)} ${phase.startedAt} ${phase.endedAt ?? ''}`);
    if (status.outage) console.log(outageLine(status.outage));
    for (const problem of status.problems) console.log(`  problem: ${printable(problem)}`);
  }
  return exitCodes.ok;
}

/** Every migration on the server, with its search attributes' phase and node (a run before issue 22 shows none). */
export async function listMigrationsCommand({ config, options }: CommandContext): Promise<ExitCode> {
  printTemporalEquivalent(['list', '--query', "WorkflowType='migrateVm'"]);
  const rows: { workflowId: string; status: string; phase: string; node?: string }[] = [];
  await withClient(config, async (client) => {
    for await (const run of client.workflow.list({ query: `WorkflowType='migrateVm'` })) {
      const phase = run.typedSearchAttributes.get(MigrationPhaseAttribute) ?? '';
      const node = run.typedSearchAttributes.get(NodeNameAttribute);
      rows.push({ workflowId: run.workflowId, status: run.status.name, phase, ...(node !== undefined && { node }) });
    }
  });
  if (options.json) console.log(JSON.stringify(rows));
  else
    for (const { workflowId, status, phase, node } of rows)
      console.log(`${workflowId.padEnd(22)} ${status.padEnd(12)} ${node ? `${phase.padEnd(22)} ${node}` : phase}`);
  return exitCodes.ok;
}

/** Approves or rejects the named VMs' migrations; exit 3 when one of them did not take the decision. */
export async function vmDecisionCommand(
  { config, args, options }: CommandContext,
  approve: boolean,
  decision: Decision,
): Promise<ExitCode> {
  const verb = approve ? 'approve' : 'reject';
  let code: ExitCode = exitCodes.ok;
  for (const vmid of vmidArguments(args)) {
    printTemporalEquivalent(
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
    if (options.json) console.log(JSON.stringify({ vmid, ...answer }));
    else
      console.log(
        answer.accepted
          ? `vm ${vmid}: ${verb}d by ${decision.by}`
          : `vm ${vmid}: not taken: ${printable(answer.reason ?? '')}`,
      );
    if (!answer.accepted) code = exitCodes.notTaken;
  }
  return code;
}

/** A migration's record (Markdown), once its run has ended. */
export async function recordCommand({ config, args }: CommandContext): Promise<ExitCode> {
  const [vmid] = vmidArguments(args);
  printTemporalEquivalent(['query', '--workflow-id', migrationId(vmid), '--name', 'record'], config, migrationId(vmid));
  const record = await withClient(config, (client) =>
    client.workflow.getHandle(migrationId(vmid)).query(recordQuery),
  ).catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) throw new Error(`no migration of vm ${vmid} on this server`);
    throw err;
  });
  if (record === null) throw new Error(`vm ${vmid}'s record is written when its run ends`);
  console.log(record);
  return exitCodes.ok;
}
