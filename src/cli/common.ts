import { hostname, userInfo } from 'node:os';
import { ApplicationFailure, Client, Connection } from '@temporalio/client';
import type { z } from 'zod';
import { workflowUiLink, type TemporalConfig } from '../config';
import { InventorySchema, type Inventory } from '../inventory';
import { privateKeyProblems, readInventoryFile } from '../inventory-file';
import type { Outage } from '../migration/contracts';
import { DecisionSchema, type Decision } from '../migration/messages';
import { inSeconds, outageTimes } from '../migration/outage';
import { terminalPhases, type MigrationPhase } from '../migration/phases';
import { parseInput } from '../migration/input';
import { shellCommand } from '../remote/shell-quote';
import { InputRefused, printable } from '../schema';
import type { CliOptions } from './flags';

export interface CommandContext {
  config: TemporalConfig;
  /** the words after the command's name */
  args: string[];
  options: CliOptions;
}

/** What the CLI's process exits with. */
export const exitCodes = {
  ok: 0,
  /** the command failed, or the server or the worker did */
  failed: 1,
  /** refused input (InputRefused): nothing was started, no server contacted */
  refused: 2,
  /** a decision was not taken: the run has moved on, or no run awaited one */
  notTaken: 3,
} as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

export interface Command {
  summary: string;
  run(context: CommandContext): Promise<ExitCode>;
}

/** Whether a run reported its last phase (its close may not have reached the server's listings yet). */
export const hasEnded = (phase: MigrationPhase | undefined) =>
  phase !== undefined && (terminalPhases as readonly MigrationPhase[]).includes(phase);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const clock = () => new Date().toISOString().slice(11, 19);

/** A run's outage on one line of its status. */
export const outageLine = (outage: Outage) =>
  `  outage: ${inSeconds(outage.ms)} by the guest's clock (${outageTimes(outage)})`;

/** Every command says how to do the same with the Temporal CLI alone, and where to look in the UI. */
export function printTemporalEquivalent(argv: string[], config?: TemporalConfig, workflowId?: string): void {
  const words = ['temporal', 'workflow', ...argv].map((word) =>
    /^[\w./:=@-]+$/.test(word) ? word : shellCommand([word]),
  );
  console.error(`equivalent: ${words.join(' ')}`);
  if (config && workflowId) console.error(`UI: ${workflowUiLink(config, workflowId)}`);
}

export function vmidArguments(args: string[]): number[] {
  if (args.length === 0) throw new InputRefused("a vmid is needed, e.g. 105 (got '')");
  return args.map((arg) => {
    const vmid = Number(arg);
    if (!/^\d{3,9}$/.test(arg) || vmid < 100)
      throw new InputRefused(`a vmid is needed, e.g. 105 (got '${printable(arg)}')`);
    return vmid;
  });
}

/** The inventory, checked whole (its key files too, where this machine has them) before the CLI contacts the server. */
export async function readInventory(
  options: CliOptions,
  schema: z.ZodType<Inventory, unknown> = InventorySchema,
): Promise<Inventory> {
  const path = options.inventory ?? process.env.OPENCLAW_INVENTORY;
  if (!path)
    throw new InputRefused(
      '--inventory FILE (or OPENCLAW_INVENTORY) is needed: the lab writes one, `npm run lab -- status` says where',
    );
  const inventory = readInventoryFile(path, schema);
  const { problems, warnings } = await privateKeyProblems(inventory);
  if (problems.length) throw new InputRefused(`bad inventory ${path}:\n  ${problems.map(printable).join('\n  ')}`);
  for (const warning of warnings) console.error(`warning: ${printable(warning)}`);
  return inventory;
}

/** The client identity Temporal records with every signal and update this CLI sends; decisions state it too. */
export const clientIdentity = `${process.pid}@${hostname()}`;

/** `--by` and `--reason` as a decision or gate change, refused before anything is sent. */
export function decisionFrom(options: CliOptions, defaultBy: string, defaultReason: string): Decision {
  const decision = { by: options.by ?? defaultBy, reason: options.reason ?? defaultReason, identity: clientIdentity };
  return asRefusal(() => parseInput(DecisionSchema, decision, '--by/--reason'));
}

/** Who starts a run: `--by`, else the user name this CLI runs as. */
export const startedBy = (options: CliOptions) => options.by ?? userInfo().username;

/** Runs a parse whose InvalidInput failure is the CLI's refusal (exit 2). */
export function asRefusal<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === 'InvalidInput')
      throw new InputRefused(err.message.split('\n').map(printable).join('\n'));
    throw err;
  }
}

export async function withClient<T>(config: TemporalConfig, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ ...config.connection, connectTimeout: '5 seconds' }).catch(
    (err: unknown) => {
      throw new Error(
        `Cannot reach the Temporal server at ${config.address} (${err instanceof Error ? err.message : err}).\n` +
          'Start one with ./temporal-dev.sh, or point TEMPORAL_ADDRESS at yours.',
      );
    },
  );
  try {
    return await use(new Client({ connection, namespace: config.namespace, identity: clientIdentity }));
  } finally {
    await connection.close();
  }
}
