import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  fromTomlProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';
// The SDK's own loader, one step before it drops what it does not support (codec): that is what must be refused.
import { tomlLoadClientConfigProfile, type TomlClientConfigProfile } from '@temporalio/envconfig/lib/envconfig-toml';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { WEBHOOK_NAME, WebhooksSchema, type Webhook } from './notify/config';
import { readRegularFile } from './regular-file';
import { hostName } from './schema';

/**
 * How the worker and the CLI reach Temporal: the part that both `@temporalio/client`'s Connection and the worker's
 * NativeConnection take.
 */
export interface TemporalConnection {
  address: string;
  tls?: TlsConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}
type TlsConfig = Exclude<NonNullable<ReturnType<typeof toClientOptions>['connectionOptions']['tls']>, boolean>;

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  uiUrl: string;
  connection: TemporalConnection;
  /** which settings were used, for messages: "profile 'prod' of /etc/openclaw-migrate/temporal.toml" */
  source: string;
  /** host:port where the worker serves Prometheus metrics; none when unset */
  metricsAddress?: string;
}

/** `host:port`, the host as hostName takes it (`[…]` around IPv6): handed on in that canonical form. */
const hostPort = z
  .string()
  .max(255)
  .transform((s, ctx) => {
    const parts = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
    const host = parts && hostName.safeParse(parts[1] ?? parts[2]);
    const port = Number(parts?.[3]);
    if (!host?.success || !(port >= 1 && port <= 65535)) {
      ctx.addIssue({ code: 'custom', message: 'must be host:port, e.g. 127.0.0.1:7233 ([…] around IPv6)' });
      return z.NEVER;
    }
    return `${parts![1] === undefined ? host.data : `[${host.data}]`}:${port}`;
  });
const pem = z.instanceof(Uint8Array).refine((data) => data.length > 0 && data.length <= 1 << 20, 'must be 1 B–1 MiB');

// What the SDK's loader made of the profile and the environment; anything else is refused.
const ResolvedProfileSchema = z.strictObject({
  address: hostPort.prefault('127.0.0.1:7233'),
  namespace: z.string().min(1).max(255).default('default'),
  apiKey: z.string().min(1).max(8192).optional(),
  metadata: z.record(z.string().min(1).max(256), z.string().max(8192)).optional(),
  tls: z
    .union([
      z.boolean(),
      z.strictObject({
        serverNameOverride: z.string().min(1).max(255).optional(),
        serverRootCACertificate: pem.optional(),
        clientCertPair: z.strictObject({ crt: pem, key: pem }).optional(),
      }),
    ])
    .optional(),
});

// The project's own settings, beside Temporal's.
const ProjectEnvSchema = z.object({
  TEMPORAL_TASK_QUEUE: z.string().min(1).max(255).default('openclaw-migrate'),
  TEMPORAL_UI_URL: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .prefault('http://127.0.0.1:8233')
    .transform((s) => new URL(s).href.replace(/\/$/, '')),
  OPENCLAW_METRICS_ADDRESS: hostPort.optional(),
});

/**
 * Where the worker and the CLI find Temporal, by Temporal's environment configuration (the `temporal` CLI's too): a
 * profile of the TOML file named by TEMPORAL_CONFIG_FILE (else ~/.config/temporalio/temporal.toml, if there),
 * chosen by TEMPORAL_PROFILE (else `default`), then TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS*, TEMPORAL_GRPC_META_* over it. Without file or variables: the local dev server.
 */
export function temporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const vars = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const file = configFile(vars);
  const profileName = vars.TEMPORAL_PROFILE || 'default';
  const source = file ? `profile '${profileName}' of ${file}` : 'the environment';
  if (!file && vars.TEMPORAL_PROFILE)
    throw new Error(
      `TEMPORAL_PROFILE is '${vars.TEMPORAL_PROFILE}' but there is no config file: set TEMPORAL_CONFIG_FILE, or create ` +
        `${defaultConfigFile(vars) ?? '~/.config/temporalio/temporal.toml'}`,
    );

  let profile: ClientConfigProfile;
  try {
    const tomlProfile = tomlLoadClientConfigProfile({
      profile: profileName,
      configSource: file ? { data: readRegularFile(file, MAX_SETTINGS_FILE_BYTES) } : undefined,
      disableFile: !file,
      configFileStrict: true,
      overrideEnvVars: vars,
    });
    const unsupported = unsupportedSettings(tomlProfile, profileName);
    if (unsupported.length) throw new Error(unsupported.join('; '));
    profile = fromTomlProfile(tomlProfile);
  } catch (err) {
    throw new Error(`Bad Temporal settings in ${file ?? 'the environment'}: ${problem(err, file, profileName)}`);
  }
  if (profile.tls) {
    try {
      const { clientCert, clientKey, serverCACert } = profile.tls;
      profile.tls = {
        ...profile.tls,
        clientCert: fileRead(clientCert, 'client_cert_path'),
        clientKey: fileRead(clientKey, 'client_key_path'),
        serverCACert: fileRead(serverCACert, 'server_ca_cert_path'),
      };
    } catch (err) {
      throw new Error(`Bad Temporal settings in ${source}: tls.${err instanceof Error ? err.message : err}`);
    }
  }
  const half = profile.tls && !profile.tls.clientCert !== !profile.tls.clientKey;
  if (half) throw new Error(`Bad Temporal settings in ${source}: tls needs both a client certificate and its key`);

  let options: ReturnType<typeof toClientOptions>;
  try {
    options = toClientOptions(profile);
  } catch (err) {
    throw new Error(`Bad Temporal settings in ${source}: tls: ${err instanceof Error ? err.message : err}`);
  }
  const resolved = ResolvedProfileSchema.safeParse({
    ...options.connectionOptions,
    namespace: options.namespace,
  });
  const project = ProjectEnvSchema.safeParse(vars);
  const issues = [
    ...(resolved.error?.issues.map((issue) => `${profileKey(issue.path)}: ${issue.message}`) ?? []),
    ...(project.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? []),
  ];
  if (!resolved.success || !project.success)
    throw new Error(`Bad Temporal settings in ${source}:\n  ${issues.join('\n  ')}`);

  const { namespace, ...connection } = resolved.data;
  return {
    address: connection.address,
    namespace,
    taskQueue: project.data.TEMPORAL_TASK_QUEUE,
    uiUrl: project.data.TEMPORAL_UI_URL,
    connection,
    source,
    metricsAddress: project.data.OPENCLAW_METRICS_ADDRESS,
  };
}

/** A profile, a certificate or a key is far below this; a bigger file is not one. */
const MAX_SETTINGS_FILE_BYTES = 1 << 20;

/**
 * What Temporal's environment configuration may say and this project does not do: taken silently, it would leave the
 * operator believing it is done (payloads encoded by a codec server; TLS without host verification).
 */
function unsupportedSettings(profile: TomlClientConfigProfile, profileName: string): string[] {
  return [
    ...(profile.codec
      ? [
          `codec: payload codecs are not supported (remove [profile.${profileName}.codec] and ` +
            'TEMPORAL_CODEC_ENDPOINT, TEMPORAL_CODEC_AUTH): payloads would go unencoded',
        ]
      : []),
    ...(profile.tls?.disable_host_verification
      ? ['TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported: the server name is always verified']
      : []),
  ];
}

/** A certificate or key named by its path, read as readRegularFile reads (a FIFO refused, never waited on). */
function fileRead(source: ConfigDataSource | undefined, key: string): ConfigDataSource | undefined {
  if (!source || !('path' in source)) return source;
  try {
    return { data: readRegularFile(source.path, MAX_SETTINGS_FILE_BYTES) };
  } catch (err) {
    throw new Error(`${key}: ${err instanceof Error ? err.message : err}`);
  }
}

/** The TOML file to read: the one TEMPORAL_CONFIG_FILE names (it must exist), else the default one if it exists. */
function configFile(vars: Record<string, string>): string | undefined {
  const named = vars.TEMPORAL_CONFIG_FILE;
  if (named) {
    if (!existsSync(named)) throw new Error(`TEMPORAL_CONFIG_FILE names ${named}, which does not exist`);
    return named;
  }
  const fallback = defaultConfigFile(vars);
  return fallback && existsSync(fallback) ? fallback : undefined;
}

/** Where the SDKs and the `temporal` CLI look on Linux: $XDG_CONFIG_HOME (absolute) or ~/.config. */
function defaultConfigFile(vars: Record<string, string>): string | undefined {
  const xdg = vars.XDG_CONFIG_HOME;
  const dir = xdg ? (isAbsolute(xdg) ? xdg : undefined) : vars.HOME && join(vars.HOME, '.config');
  return dir && join(dir, 'temporalio', 'temporal.toml');
}

function problem(err: unknown, file: string | undefined, profileName: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/^Profile '.*' not found/.test(message))
    return `it has no profile '${profileName}' (TEMPORAL_PROFILE picks one; the default is 'default')`;
  return file ? message.replace(/^Validation error: /, '') : message;
}

/** The name of a setting as the TOML file spells it, so that a message points at the line to fix. */
function profileKey(path: PropertyKey[]): string {
  const names: Record<string, string> = {
    apiKey: 'api_key',
    metadata: 'grpc_meta',
    serverNameOverride: 'server_name',
    serverRootCACertificate: 'server_ca_cert',
    clientCertPair: 'client_cert',
  };
  return path.map((key) => names[String(key)] ?? String(key)).join('.');
}

/** The Temporal UI page of one workflow run. */
export function workflowUiLink(config: Pick<TemporalConfig, 'uiUrl' | 'namespace'>, workflowId: string): string {
  return `${config.uiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * The webhooks the worker notifies (src/notify): a YAML or JSON list, from the file that OPENCLAW_WEBHOOKS_FILE names
 * or inline in OPENCLAW_WEBHOOKS (not both). None when neither is set. A refusal names the setting and the field,
 * never a URL or a secret.
 */
export function webhookConfig(env: NodeJS.ProcessEnv = process.env): Webhook[] {
  const file = env.OPENCLAW_WEBHOOKS_FILE;
  const inline = env.OPENCLAW_WEBHOOKS;
  if (file && inline)
    throw new Error('Bad webhook settings: set OPENCLAW_WEBHOOKS_FILE or OPENCLAW_WEBHOOKS, not both');
  if (!file && !inline) return [];
  const source = file ? `OPENCLAW_WEBHOOKS_FILE (${file})` : 'OPENCLAW_WEBHOOKS';
  const text = file ? readRegularFile(file, MAX_SETTINGS_FILE_BYTES).toString('utf8') : inline!;
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    // a parser's message may quote the line it stopped at, and that line may hold a URL: only where it stopped
    const at = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    throw new Error(`Bad webhook settings in ${source}: not YAML or JSON${where}`);
  }
  const parsed = WebhooksSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      const [index, ...field] = issue.path;
      const name = typeof index === 'number' ? (data as { name?: unknown }[])[index]?.name : undefined;
      // a name is shown only once it is one: a URL given as a name by mistake is not quoted
      const shown = typeof name === 'string' && WEBHOOK_NAME.test(name) ? ` (${name})` : '';
      const which = typeof index === 'number' ? `[${index}]${shown}` : '';
      return `${which}${field.length ? `.${field.join('.')}` : ''}: ${issue.message}`;
    });
    throw new Error(`Bad webhook settings in ${source}:\n  ${issues.join('\n  ')}`);
  }
  return parsed.data;
}
