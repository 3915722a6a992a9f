import { z } from 'zod';
import { failure } from '../failures';
import { operatorName } from '../identity';
import {
  ApproverPolicyShape,
  nodeName,
  OpenclawVersionSchema,
  PanelReleaseSchema,
  SshEndpointSchema,
} from '../inventory';
import {
  DAY,
  describeIssues,
  duration,
  ipAddress,
  ledgerPath,
  linuxUser,
  MINUTE,
  port,
  SECOND,
  shellCommandLine,
  strictObject,
  vmid,
} from '../schema';
import { FleetGateSchema } from './messages';
import { DEFAULT_LEDGER_PATH } from './node-lock';
import { WindowSchema } from './window';
import { OutageMsSchema } from './outage';

/** The official installer, non-interactive: without these flags it hangs waiting for input (record 000). */
export const OFFICIAL_INSTALL_COMMAND =
  'curl -fsSL https://openclaw.ai/install.sh | bash -s -- --no-prompt --no-onboard --no-gum';

export const PortsSchema = strictObject({
  panel: port.default(28080),
  gateway: port.default(28789),
  panelFront: port.default(18080),
  gatewayFront: port.default(18789),
});

export const RunAsSchema = strictObject({
  user: linuxUser.default('root'),
  /** seed 004's hardened units (ProtectSystem=strict, NoNewPrivileges, …) */
  hardened: z.boolean().default(false),
});

export const TimeoutsSchema = strictObject({
  commandMs: duration(SECOND, DAY).default(10 * MINUTE),
  installMs: duration(SECOND, DAY).default(15 * MINUTE),
  /** remind the operator while the run waits for approval; none by default */
  approvalReminderMs: duration(100, 30 * DAY).optional(),
  /** give up waiting for approval (and roll back) after this long; none by default */
  approvalDeadlineMs: duration(SECOND, 90 * DAY).optional(),
});

/** What a fleet may set for each of its VMs (`vmOverrides`): never which VM, node or release. */
export const VmOverridesSchema = strictObject({
  ports: PortsSchema.optional(),
  runAs: RunAsSchema.optional(),
  timeouts: TimeoutsSchema.optional(),
  dryRun: z.boolean().optional(),
  removeImages: z.boolean().optional(),
  prestage: z.boolean().optional(),
  startedBy: operatorName.optional(),
  ...ApproverPolicyShape,
});

/** Everything one migrateVm run needs; validated before anything starts. */
export const MigrateVmInputSchema = strictObject({
  vmid,
  vmIp: ipAddress,
  node: SshEndpointSchema,
  /** the node's name in the inventory's `nodes`, for the record and the UI */
  nodeName: nodeName.optional(),
  /** qga: through the node with `qm guest exec` (the SOP's way); ssh: straight to the VM */
  transport: z.enum(['qga', 'ssh']).default('qga'),
  vmSsh: SshEndpointSchema.optional(),
  panelRelease: PanelReleaseSchema,
  ports: PortsSchema.prefault({}),
  runAs: RunAsSchema.prefault({}),
  installCommand: shellCommandLine.default(OFFICIAL_INSTALL_COMMAND),
  /** the release phase D installs: the installer's (the SOP's), the Docker-era one, or a pinned one (inventory.ts) */
  openclawVersion: OpenclawVersionSchema.default('installer'),
  timeouts: TimeoutsSchema.prefault({}),
  dryRun: z.boolean().default(false),
  /** phase I (after acceptance and approval) removes the project's images too; without it they stay on disk */
  removeImages: z.boolean().default(false),
  /**
   * install, pre-copy the data, deploy the panel and write the units while Docker still runs, then stop it for the
   * final copy and the start only (issue 13; `phaseOrder` in phases.ts); default: the SOP's fixed order (§4)
   */
  prestage: z.boolean().default(false),
  /** phase C (and with `removeDocker` phase I) starts only inside this window, with enough of it left (window.ts) */
  window: WindowSchema.optional(),
  /** set by its fleet: the longest cutover (C to H) measured so far among its VMs of this order, for `window` */
  cutoverMeasuredMs: OutageMsSchema.optional(),
  /** set by its fleet with `prestageAhead`: C waits until the fleet grants this run a cutover slot */
  holdForCutover: z.literal(true).optional(),
  /** the fleet's Docker-removal gate when the fleet starts this run; a lone run has none */
  fleetGate: FleetGateSchema.optional(),
  /** the node's bot ledger, committed under the node's lock once the VM is migrated */
  ledgerPath: ledgerPath.default(DEFAULT_LEDGER_PATH),
  /** who started the run, for the record */
  startedBy: operatorName.default('operator'),
  ...ApproverPolicyShape,
}).superRefine((input, ctx) => {
  if (input.transport === 'ssh' && !input.vmSsh) {
    ctx.addIssue({ code: 'custom', path: ['vmSsh'], message: "required when transport is 'ssh'" });
  }
});

export type MigrateVmInput = z.input<typeof MigrateVmInputSchema>;
export type MigrateVmParams = z.output<typeof MigrateVmInputSchema>;

/** Validates a run's input; the error names every bad field. */
export function parseMigrateVmInput(input: unknown): MigrateVmParams {
  return parseInput(MigrateVmInputSchema, input, 'migrateVm input');
}

/**
 * Parses with a schema or fails naming every bad field, as InvalidInput (non-retryable, src/failures.ts):
 * thrown in a workflow it fails the run at once instead of retrying its task forever.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw failure('InvalidInput', `invalid ${what}:\n  ${describeIssues(parsed.error, '(input)').join('\n  ')}`);
  }
  return parsed.data;
}
