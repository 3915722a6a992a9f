import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { SshEndpointSchema } from '../inventory';
import { DEFAULT_LEDGER_PATH } from './shared-resources';

/** The official installer, non-interactive: without these flags it hangs waiting for input (record 000). */
export const OFFICIAL_INSTALL_COMMAND =
  'curl -fsSL https://openclaw.ai/install.sh | bash -s -- --no-prompt --no-onboard --no-gum';

const port = z.number().int().min(1).max(65535);
const minutes = (n: number) => n * 60_000;

/** Everything one migrateVm run needs; validated before anything starts. */
export const MigrateVmInputSchema = z
  .object({
    vmid: z.number().int().min(100).max(999_999_999),
    vmIp: z.string().regex(/^[0-9a-fA-F.:]+$/, 'an IPv4 or IPv6 address'),
    node: SshEndpointSchema,
    /** qga: through the node with `qm guest exec` (the SOP's way); ssh: straight to the VM */
    transport: z.enum(['qga', 'ssh']).default('qga'),
    vmSsh: SshEndpointSchema.optional(),
    panelRelease: z.object({
      repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name'),
      tag: z.string().regex(/^[\w.+-]+$/, 'a release tag such as v2026.02.20-r4'),
      baseUrl: z.string().url().default('https://api.github.com'),
    }),
    ports: z
      .object({
        panel: port.default(28080),
        gateway: port.default(28789),
        panelFront: port.default(18080),
        gatewayFront: port.default(18789),
      })
      .prefault({}),
    runAs: z
      .object({
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]*$/, 'a Linux user name')
          .default('root'),
        /** seed 004's hardened units (ProtectSystem=strict, NoNewPrivileges, …) */
        hardened: z.boolean().default(false),
      })
      .prefault({}),
    installCommand: z.string().min(1).default(OFFICIAL_INSTALL_COMMAND),
    timeouts: z
      .object({
        commandMs: z.number().int().positive().default(minutes(10)),
        installMs: z.number().int().positive().default(minutes(15)),
        /** remind the operator while the run waits for approval; none by default */
        approvalReminderMs: z.number().int().positive().optional(),
        /** give up waiting for approval (and roll back) after this long; none by default */
        approvalDeadlineMs: z.number().int().positive().optional(),
      })
      .prefault({}),
    dryRun: z.boolean().default(false),
    /** the fleet's Docker-removal gate when the fleet starts this run; a lone run has none */
    fleetGate: z.object({ open: z.boolean(), reason: z.string() }).optional(),
    /** the node's bot ledger, committed under the node's lock once the VM is migrated */
    ledgerPath: z.string().startsWith('/').default(DEFAULT_LEDGER_PATH),
    /** who started the run, for the record */
    startedBy: z.string().min(1).default('operator'),
  })
  .superRefine((input, ctx) => {
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
 * Parses with a schema or fails naming every bad field. The failure is a non-retryable ApplicationFailure of
 * type InvalidInput: thrown in a workflow it fails the run at once instead of retrying its task forever.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      message: `invalid ${what}:\n  ${problems.join('\n  ')}`,
      nonRetryable: true,
    });
  }
  return parsed.data;
}
