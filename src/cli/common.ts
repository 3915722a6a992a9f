import { Client, Connection } from '@temporalio/client';
import { workflowUiLink, type TemporalConfig } from '../config';
import type { Inventory } from '../inventory';
import { readInventoryFile } from '../inventory-file';
import { shellCommand } from '../remote/shell-quote';

export interface CliOptions {
  inventory?: string;
  by?: string;
  reason?: string;
  wait?: boolean;
  fleet: string;
  concurrency?: number;
  canary?: number;
  failureBudget?: number;
  allowConcurrencyAboveSop?: boolean;
  yes?: boolean;
  watch?: boolean;
  detach?: boolean;
}

export interface CommandContext {
  config: TemporalConfig;
  args: string[];
  json: boolean;
  options: CliOptions;
}

export interface Command {
  summary: string;
  run(context: CommandContext): Promise<void>;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const clock = () => new Date().toISOString().slice(11, 19);

/** Every command says how to do the same with the Temporal CLI alone, and where to look in the UI. */
export function equivalent(argv: string[], config?: TemporalConfig, workflowId?: string): void {
  const words = ['temporal', 'workflow', ...argv].map((word) =>
    /^[\w./:=@-]+$/.test(word) ? word : shellCommand([word]),
  );
  console.error(`equivalent: ${words.join(' ')}`);
  if (config && workflowId) console.error(`UI: ${workflowUiLink(config, workflowId)}`);
}

export function vmidArguments(args: string[]): number[] {
  if (args.length === 0) throw new Error("a vmid is needed, e.g. 105 (got '')");
  return args.map((arg) => {
    const vmid = Number(arg);
    if (!Number.isInteger(vmid) || vmid < 100) throw new Error(`a vmid is needed, e.g. 105 (got '${arg}')`);
    return vmid;
  });
}

export function readInventory(options: CliOptions): Inventory {
  const path = options.inventory ?? process.env.OPENCLAW_INVENTORY;
  if (!path)
    throw new Error(
      '--inventory FILE (or OPENCLAW_INVENTORY) is needed: the lab writes one, `npm run lab -- status` says where',
    );
  return readInventoryFile(path);
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
    return await use(new Client({ connection, namespace: config.namespace }));
  } finally {
    await connection.close();
  }
}
