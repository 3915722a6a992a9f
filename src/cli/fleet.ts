import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowClient,
  type WorkflowHandle,
} from '@temporalio/client';
import { workflowUiLink, type TemporalConfig } from '../config';
import { parseMigrateFleetInput, type MigrateFleetInput } from '../fleet/input';
import {
  fleetStatusQuery,
  fleetWorkflowId,
  GateChangeSchema,
  outageSummary,
  setFleetGateUpdate,
  type FleetReport,
  type FleetStatus,
  type FleetVm,
} from '../fleet/messages';
import { approveUpdate, rejectUpdate, type Decision, type DecisionAnswer } from '../migration/messages';
import { inSeconds } from '../migration/outage';
import { parseInput } from '../migration/input';
import { fleetSummary, nodesLine } from '../migration/ui-metadata';
import { InputRefused, printable } from '../schema';
import { FleetIdAttribute } from '../search-attributes';
import type { migrateFleet, migrateVm } from '../workflows';
import {
  asRefusal,
  clock,
  decisionFrom,
  printTemporalEquivalent,
  exitCodes,
  hasEnded,
  readInventory,
  sleep,
  startedBy,
  withClient,
  type CommandContext,
  type ExitCode,
} from './common';

type FleetHandle = WorkflowHandle<typeof migrateFleet>;

export const planFleetId = (name: string) => `plan-fleet-${name}`;

/** A fleet's input (or its dry run's) from the inventory and the command line, checked whole before any contact. */
async function fleetInput({ options }: CommandContext, dryRun = false): Promise<MigrateFleetInput> {
  const input: MigrateFleetInput = {
    inventory: await readInventory(options),
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.canary !== undefined && { canary: options.canary }),
    ...(options.failureBudget !== undefined && { failureBudget: options.failureBudget }),
    ...(options.allowConcurrencyAboveSop && { allowConcurrencyAboveSop: true }),
    ...(options.prestageAhead !== undefined && !dryRun && { prestageAhead: options.prestageAhead }),
    // a dry run changes nothing: no canary, and one VM that cannot be scanned does not stop the others' plans
    ...(dryRun && { canary: 0, failureBudget: 1_000_000 }),
    vmOverrides: {
      startedBy: startedBy(options),
      ...(dryRun && { dryRun: true }),
      ...(options.removeImages && { removeImages: true }),
      ...(options.prestage && { prestage: true }),
    },
  };
  asRefusal(() => parseMigrateFleetInput(input));
  return input;
}

/**
 * Starts a fleet with its checked input. Past a screenful the input goes to a file for the equivalent command: in
 * a private directory (it holds the whole inventory), removed once the command is done with it.
 */
async function startFleet(
  { config }: CommandContext,
  client: Client,
  workflowId: string,
  input: MigrateFleetInput,
): Promise<FleetHandle> {
  const json = JSON.stringify(input);
  const dir = json.length > 1000 ? await mkdtemp(join(tmpdir(), 'openclaw-migrate-')) : undefined;
  try {
    const inputFile = dir && join(dir, `${workflowId}.input.json`);
    if (inputFile) await writeFile(inputFile, json + '\n', { mode: 0o600 });
    printTemporalEquivalent(
      [
        'start',
        '--type',
        'migrateFleet',
        '--task-queue',
        config.taskQueue,
        '--workflow-id',
        workflowId,
        ...(inputFile ? ['--input-file', inputFile] : ['--input', json]),
      ],
      config,
      workflowId,
    );
    const params = parseMigrateFleetInput(input);
    return await client.workflow.start<typeof migrateFleet>('migrateFleet', {
      taskQueue: config.taskQueue,
      workflowId,
      args: [input],
      staticSummary: fleetSummary({
        fleetId: workflowId,
        vms: params.inventory.vms.length,
        concurrency: params.concurrency,
        dryRun: params.vmOverrides.dryRun === true,
      }),
    });
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** The fleet's handle when it exists on the server. */
async function findFleet(client: Client, workflowId: string): Promise<FleetHandle | undefined> {
  const handle = client.workflow.getHandle<typeof migrateFleet>(workflowId);
  try {
    await handle.describe();
    return handle;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

async function existingFleet(client: Client, workflowId: string): Promise<FleetHandle> {
  const handle = await findFleet(client, workflowId);
  if (!handle)
    throw new Error(`no fleet ${workflowId} on this server: start one with 'migrate fleet' (or name it with --fleet)`);
  return handle;
}

/** The fleet's status while it runs, its report once it has ended. */
async function fleetState(handle: FleetHandle): Promise<{ status: FleetStatus; report?: FleetReport }> {
  const { status } = await handle.describe();
  if (status.name === 'COMPLETED') {
    const report = await handle.result();
    return { status: report, report };
  }
  if (status.name !== 'RUNNING') {
    const reason = await handle.result().then(
      () => '',
      (err: unknown) => (err instanceof Error ? `: ${(err.cause as Error | undefined)?.message ?? err.message}` : ''),
    );
    throw new Error(`the fleet ${handle.workflowId} has ended ${status.name.toLowerCase()}${reason}`);
  }
  return { status: await handle.query(fleetStatusQuery) };
}

/** A VM that waits for a human, or for its maintenance window (hours away, maybe): not worth a terminal held open. */
const humanWait = (vm: FleetVm, autoApprove: boolean) =>
  vm.state === 'running' &&
  ((vm.phase === 'awaiting-approval' && !autoApprove) ||
    vm.phase === 'awaiting-fleet-gate' ||
    vm.phase === 'awaiting-window');

/**
 * Follows a fleet, printing each VM's phase changes and the gate's, until the fleet ends or (unless `untilDone`)
 * every VM in flight waits for a human. With `approveAs`, approves each VM that awaits approval.
 */
export async function followFleet(
  handle: FleetHandle,
  { progress, untilDone, approveAs }: { progress?: (line: string) => void; untilDone: boolean; approveAs?: Decision },
): Promise<{ status: FleetStatus; report?: FleetReport }> {
  const seen = new Map<number, string>();
  const approved = new Set<number>();
  let gateSeen = '';
  for (;;) {
    const state = await fleetState(handle);
    const { status } = state;
    const say = (line: string) => progress?.(`${clock()}  ${line}`);
    const gate = status.gate.open ? 'open' : `CLOSED (${printable(status.gate.reason)})`;
    if (gate !== gateSeen) say(`gate ${gate}`);
    gateSeen = gate;
    const several = (status.nodes?.length ?? 0) > 1;
    for (const vm of status.vms) {
      const now = vm.state === 'running' ? (vm.phase ?? 'starting') : vm.state;
      if (seen.get(vm.vmid) !== now && vm.state !== 'queued') {
        // a run that reported its last phase counts as done, though its close has not reached the fleet yet
        const done = status.vms.filter((v) => !['queued', 'running'].includes(v.state) || hasEnded(v.phase)).length;
        say(
          `vm ${vm.vmid}${several && vm.node ? ` on ${printable(vm.node)}` : ''}: ${now}${vm.error ? ` (${printable(vm.error.split('\n')[0])})` : ''}` +
            `   [${done}/${status.vms.length} done, ${status.inFlight} in flight]`,
        );
      }
      seen.set(vm.vmid, now);
      if (approveAs && vm.phase === 'awaiting-approval' && vm.state === 'running' && !approved.has(vm.vmid)) {
        approved.add(vm.vmid);
        const answer = await decide(handle.client, vm, true, approveAs);
        say(`vm ${vm.vmid}: ${answer.accepted ? `approved by ${approveAs.by}` : `not taken: ${answer.reason}`}`);
      }
    }
    if (state.report) return state;
    const inFlight = status.vms.filter((vm) => vm.state === 'running');
    if (!untilDone && inFlight.length > 0 && inFlight.every((vm) => humanWait(vm, !!approveAs))) return state;
    await sleep(1000);
  }
}

function decide(workflows: WorkflowClient, vm: FleetVm, approve: boolean, decision: Decision): Promise<DecisionAnswer> {
  return workflows
    .getHandle(vm.workflowId!)
    .executeUpdate(approve ? approveUpdate : rejectUpdate, { args: [decision] });
}

export function fleetTable(status: FleetStatus): string {
  const since = (vm: FleetVm) =>
    vm.durationMs !== undefined
      ? `${Math.round(vm.durationMs / 1000)} s`
      : vm.startedAt
        ? `${Math.round((Date.now() - Date.parse(vm.startedAt)) / 1000)} s`
        : '';
  const nodeWidth = Math.max(4, ...status.vms.map((vm) => printable(vm.node ?? '').length));
  const rows = status.vms.map((vm) =>
    [
      String(vm.vmid).padEnd(6),
      printable(vm.name ?? '').padEnd(14),
      printable(vm.node ?? '').padEnd(nodeWidth),
      vm.state.padEnd(12),
      (vm.state === 'running' ? (vm.phase ?? '') : '').padEnd(20),
      since(vm).padStart(6),
      (vm.outageMs === undefined ? '' : inSeconds(vm.outageMs)).padStart(8),
      '  ' +
        (vm.waitingFor
          ? `waits for ${vm.waitingFor}`
          : printable(
              vm.error?.split('\n')[0] ?? `${vm.recordPath ?? ''}${vm.problems ? `; problem: ${vm.problems[0]}` : ''}`,
            )),
    ].join(' '),
  );
  const counts = new Map<string, number>();
  for (const vm of status.vms) counts.set(vm.state, (counts.get(vm.state) ?? 0) + 1);
  const outage = outageSummary(status.vms);
  return [
    `fleet ${status.fleetId}: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}; ` +
      (status.prestageAhead
        ? `${status.inFlight} in flight, ${status.inCutover ?? 0} of ${status.concurrency} in their cutover ` +
          `(${status.prestageAhead} pre-staging ahead), canary`
        : `${status.inFlight} of ${status.concurrency} in flight, canary`) +
      ` ${status.canary}, failures ${status.failures}/${status.failureBudget}`,
    `gate: ${status.gate.open ? 'open' : 'CLOSED'}: ${printable(status.gate.reason)}${status.gate.by ? ` (${status.gate.by}${status.gate.at ? `, ${status.gate.at}` : ''})` : ''}`,
    ...(status.nodes && status.nodes.length > 1 ? [`nodes: ${printable(nodesLine(status.nodes))}`] : []),
    ...(status.stoppedStarting ? [`no further VM starts: ${status.stoppedStarting}`] : []),
    ...(outage
      ? [
          `outage (Docker stopped until the direct gateway and panel answered, by each guest's clock): ` +
            `max ${inSeconds(outage.maxMs)}, median ${inSeconds(outage.medianMs)} over ${outage.vms} VM(s)`,
        ]
      : []),
    `${'vmid'.padEnd(6)} ${'name'.padEnd(14)} ${'node'.padEnd(nodeWidth)} ${'state'.padEnd(12)} ${'phase'.padEnd(20)} ${'time'.padStart(6)} ${'outage'.padStart(8)}   waits for / error / record`,
    ...rows,
  ].join('\n');
}

/** What the operator does next, when the fleet waits for one. */
function nextSteps(status: FleetStatus, name: string): string[] {
  const running = status.vms.filter((vm) => vm.state === 'running');
  const approvals = running.filter((vm) => vm.phase === 'awaiting-approval').map((vm) => vm.vmid);
  const atGate = running.filter((vm) => vm.phase === 'awaiting-fleet-gate').map((vm) => vm.vmid);
  const fleetFlag = name === 'default' ? '' : ` --fleet ${name}`;
  const lines: string[] = [];
  if (approvals.length)
    lines.push(
      `vm ${approvals.join(', ')} passed the acceptance checks and ${approvals.length > 1 ? 'await' : 'awaits'} your ` +
        'acceptance (SOP phase I removes Docker after it).',
      `  check them, then:  npm run starter -- approve${fleetFlag} --reason '…'   (or approve <vmid> …, reject <vmid> …)`,
    );
  if (atGate.length)
    lines.push(
      `vm ${atGate.join(', ')} ${atGate.length > 1 ? 'wait' : 'waits'} at the closed gate: ${status.gate.reason}`,
      `  once understood:   npm run starter -- gate open${fleetFlag} --reason '…'`,
    );
  const inWindow = running.filter((vm) => vm.phase === 'awaiting-window').map((vm) => vm.vmid);
  if (inWindow.length)
    lines.push(
      `vm ${inWindow.join(', ')} ${inWindow.length > 1 ? 'wait' : 'waits'} for a maintenance window: the table says when each opens`,
    );
  lines.push(`  watch the fleet:   npm run starter -- status${fleetFlag} --watch`);
  return lines;
}

function printOutcome(config: TemporalConfig, name: string, state: { status: FleetStatus; report?: FleetReport }) {
  console.log(fleetTable(state.status));
  if (state.report) {
    const { report } = state;
    console.log(`fleet ended after ${Math.round(report.wallMs / 1000)} s`);
    const withRecords = report.vms.filter((vm) => vm.workflowId && vm.state !== 'skipped');
    if (withRecords.length)
      console.log(
        `records: ${withRecords.map((vm) => `npm run starter -- record ${vm.vmid}`).join('; ')} (on each VM in /root)`,
      );
  } else {
    console.log(nextSteps(state.status, name).join('\n'));
  }
  console.log(`UI: ${workflowUiLink(config, state.status.fleetId)}`);
}

export async function migrateFleetCommand(context: CommandContext): Promise<ExitCode> {
  const { config, options } = context;
  const { json } = options;
  const workflowId = fleetWorkflowId(options.fleet);
  const input = await fleetInput(context);
  const approveAs = options.yes ? decisionFrom(options, userInfo().username, 'approved with --yes') : undefined;
  await withClient(config, async (client) => {
    // Safe to run again: a fleet that runs already is followed, not started twice.
    const handle = await startFleet(context, client, workflowId, input).catch((err: unknown) => {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!json) console.log(`fleet ${workflowId} runs already (options of this command ignored); following it`);
      return client.workflow.getHandle<typeof migrateFleet>(workflowId);
    });
    if (options.detach) {
      if (!json) console.log(`fleet ${workflowId} runs; watch it: npm run starter -- status --watch`);
      return;
    }
    const state = await followFleet(handle, {
      progress: json ? undefined : console.log,
      untilDone: false,
      approveAs,
    });
    if (json) console.log(JSON.stringify(state.report ?? state.status));
    else printOutcome(config, options.fleet, state);
  });
  return exitCodes.ok;
}

export async function planFleetCommand(context: CommandContext): Promise<ExitCode> {
  const { config, options } = context;
  const { json } = options;
  const input = await fleetInput(context, true);
  await withClient(config, async (client) => {
    const handle = await startFleet(context, client, planFleetId(options.fleet), input).catch((err: unknown) => {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new Error(
          `a dry run of fleet '${options.fleet}' runs already: wait for it, or name another with --fleet`,
        );
      throw err;
    });
    // progress on stderr: stdout is the plan
    const state = await followFleet(handle, { progress: json ? undefined : console.error, untilDone: true });
    const plans = await Promise.all(
      state.report!.vms.map(async (vm) => ({
        vmid: vm.vmid,
        state: vm.state,
        error: vm.error,
        plan:
          vm.state === 'planned'
            ? ((await client.workflow.getHandle<typeof migrateVm>(vm.workflowId!).result()).status.plan ?? [])
            : [],
      })),
    );
    if (json) console.log(JSON.stringify(plans));
    else
      for (const vm of plans) {
        console.log(`######## vm ${vm.vmid}: ${vm.state}${vm.error ? ` (${printable(vm.error)})` : ''}\n`);
        for (const step of vm.plan) console.log(`# ${step.phase}\n${step.command}\n`);
      }
  });
  return exitCodes.ok;
}

/** Shows the fleet's table (redrawn with --watch); answers false when the server has no such fleet to show. */
export async function showFleetStatus({ config, options }: CommandContext): Promise<boolean> {
  const { json } = options;
  const workflowId = fleetWorkflowId(options.fleet);
  return withClient(config, async (client) => {
    const handle = await findFleet(client, workflowId);
    if (!handle) return false;
    printTemporalEquivalent(['query', '--workflow-id', workflowId, '--name', 'fleetStatus'], config, workflowId);
    let shown = '';
    for (let first = true; ; first = false) {
      // a fleet that ended terminated, cancelled or failed has no table: its migrations are listed instead
      const state = await fleetState(handle).catch((err: unknown) => {
        if (!first) throw err;
        console.error(`${err instanceof Error ? err.message : err}; the migrations:`);
      });
      if (!state) return false;
      const text = json ? JSON.stringify(state.report ?? state.status) : fleetTable(state.status);
      if (!options.watch) {
        console.log(text);
        return true;
      }
      if (text.replace(/\s+\d+ s\s/g, '') !== shown) {
        // a terminal gets the table redrawn in place; a pipe gets each change once
        if (!json && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        console.log(json ? text : `${clock()}\n${text}\n`);
        shown = text.replace(/\s+\d+ s\s/g, '');
      }
      if (state.report) return true;
      await sleep(2000);
    }
  });
}

/** Approves or rejects every VM of the fleet that awaits a decision. */
export async function fleetDecisionCommand(
  { config, options }: CommandContext,
  approve: boolean,
  decision: Decision,
): Promise<ExitCode> {
  const { json } = options;
  const workflowId = fleetWorkflowId(options.fleet);
  const verb = approve ? 'approve' : 'reject';
  printTemporalEquivalent(
    [
      'signal',
      '--query',
      `${FleetIdAttribute.name}="${workflowId}" AND MigrationPhase="awaiting-approval" AND ExecutionStatus="Running"`,
      '--name',
      verb,
      '--input',
      JSON.stringify(decision),
      '--yes',
    ],
    config,
    workflowId,
  );
  const answers = await withClient(config, async (client) => {
    const status = await (await existingFleet(client, workflowId)).query(fleetStatusQuery);
    const waiting = status.vms.filter((vm) => vm.state === 'running' && vm.phase === 'awaiting-approval');
    return Promise.all(
      waiting.map(async (vm) => ({ vmid: vm.vmid, ...(await decide(client.workflow, vm, approve, decision)) })),
    );
  });
  if (json) console.log(JSON.stringify(answers));
  else if (answers.length === 0) console.log(`no VM of ${workflowId} awaits a decision`);
  for (const answer of json ? [] : answers)
    console.log(
      answer.accepted
        ? `vm ${answer.vmid}: ${verb}d by ${decision.by}`
        : `vm ${answer.vmid}: not taken: ${printable(answer.reason ?? '')}`,
    );
  return answers.length === 0 || answers.some((answer) => !answer.accepted) ? exitCodes.notTaken : exitCodes.ok;
}

export async function gateCommand({ config, args, options }: CommandContext): Promise<ExitCode> {
  const [action] = args;
  if (action !== 'open' && action !== 'close')
    throw new InputRefused(`gate open|close (got '${printable(action ?? '')}')`);
  const workflowId = fleetWorkflowId(options.fleet);
  const { by, reason } = decisionFrom(
    options,
    userInfo().username,
    `${action === 'open' ? 'opened' : 'closed'} by hand`,
  );
  const change = asRefusal(() =>
    parseInput(GateChangeSchema, { open: action === 'open', by, reason }, '--by/--reason'),
  );
  printTemporalEquivalent(
    ['update', 'execute', '--workflow-id', workflowId, '--name', 'setFleetGate', '--input', JSON.stringify(change)],
    config,
    workflowId,
  );
  const answer = await withClient(config, async (client) =>
    (await existingFleet(client, workflowId)).executeUpdate(setFleetGateUpdate, { args: [change] }),
  );
  if (options.json) console.log(JSON.stringify(answer));
  else
    console.log(
      `gate ${answer.gate.open ? 'open' : 'closed'} (${answer.gate.by}: ${answer.gate.reason})` +
        (answer.waitingAtGate.length
          ? `; ${answer.gate.open ? 'released' : 'waiting'}: vm ${answer.waitingAtGate.join(', ')}`
          : ''),
    );
  return exitCodes.ok;
}
