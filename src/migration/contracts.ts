/**
 * What the modules of a migration agree on: each phase's result (the activities answer them, the workflow keeps them
 * in its status, the record and the CLI read them), a rollback step's answer, the outage, a planned command. A leaf:
 * it imports nothing of the project, so activities, migration and workflows all import it and never each other in a
 * circle (test/import-cycles.test.ts). Types only, with the one value the listings compare with.
 */

/** An item the bot did not answer for: its CLI failed, timed out, or printed no JSON. */
export const UNKNOWN = 'unknown';

export type Unknown = typeof UNKNOWN;

export type Known<T> = T | Unknown;

export interface BotSession {
  key: string;
  /** messages chat.history returned (at most 1000, its cap in both releases), or unknown */
  messages: Known<number>;
}

export interface BotListing {
  /** `--version`'s first line, e.g. `2026.2.19` or `OpenClaw 2026.9.6 (eb377ac)` */
  version: Known<string>;
  sessions: Known<BotSession[]>;
  /** each agent's workspace as the bot resolves it (agents list) */
  workspaces: Known<{ agent: string; workspace: string }[]>;
  cronJobs: Known<{ id: string; name: string; enabled: boolean }[]>;
  /** names of the skills the bot lists as not disabled, and as disabled (doctor --fix disables unusable ones) */
  skillsEnabled: Known<string[]>;
  /** absent in the results of workers before it was kept */
  skillsDisabled?: Known<string[]>;
  /** ids of the plugins the bot lists as enabled, and as not */
  pluginsEnabled: Known<string[]>;
  pluginsDisabled?: Known<string[]>;
  /** what the bot's CLI answered instead, one line per call that failed */
  errors: string[];
}

/** Where the Docker-era gateway took the customer's token from (2026.2: the config's, else the environment's). */
export type DockerTokenSource = 'config' | 'environment' | 'none';

export interface ScanResult {
  vmStatus: string;
  hostname: string;
  os: string;
  runHome: string;
  /** the run-as user does not exist yet: phase E creates it, with runHome as its home; absent in older histories */
  runUserMissing?: boolean;
  existing: string[];
  missing: string[];
  /** what the phases run and the VM lacks (bash, tar, …, `rsync or cp`, `docker compose`); absent in the
   * results of workers before the preflight (histories replay those) */
  toolsMissing?: string[];
  sourceSessions: number;
  sourceWorkspace: number;
  backupBytes: number;
  freeBytes: number;
  /** the SOP's docker ps / ps -a / ss tables, for the record */
  evidence: string;
  /**
   * what the Docker-era bot listed by its own CLI (each item `unknown` when it did not answer: the scan goes on,
   * the acceptance then requires the direct bot's own answers only); absent in older histories
   */
  bot?: BotListing;
  /** where the customer's gateway token is kept (never the token); absent in older histories */
  tokenSource?: DockerTokenSource;
}

export interface BackupResult {
  dir: string;
  reused: boolean;
  /** SHA256SUMS.txt's lines */
  sha256: string[];
  sizes: string[];
}

/** A container's restart policy as Docker had it before phase C, which rollback puts back. */
export interface RestartPolicy {
  container: string;
  /** no, always, unless-stopped, on-failure */
  policy: string;
  /** on-failure's retry limit (0 = none) */
  maximumRetryCount: number;
}

export interface StopDockerResult {
  /** docker ps -a after the stop */
  containers: string;
  /** absent in the results of workers before restart policies were recorded (histories replay those) */
  restartPolicies?: RestartPolicy[];
  /**
   * when `docker compose stop` took the Docker-era gateway and panel away, by the guest's clock; a retried C keeps
   * the first stop's. Absent in the results of workers before the outage was measured (histories replay those)
   */
  stoppedAt?: string;
}

export interface InstallResult {
  installedNow: boolean;
  nodePath: string;
  nodeVersion: string;
  openclawPath: string;
  openclawVersion: string;
}

export interface MigrateDataResult {
  /** the run-as user did not exist and the migration created it (a system user); absent in older histories */
  userCreated?: boolean;
  targetDir: string;
  copiedWith: string;
  configBackup: string;
  configBackupCreated: boolean;
  targetSessions: number;
  targetWorkspace: number;
  /** leases the stopped Docker gateway left in the copy's state database (absent in runs from before) */
  staleLeasesCleared?: number;
  /*
   * Absent in runs from before issue 18: each `<JSON path> <Docker-era path> -> <migrated path>` of openclaw.json,
   * where the gateway token came from, and what the installed release's doctor did to the copy.
   */
  pathsRewritten?: string[];
  /** `config`: openclaw.json had it; `env`: carried from the compose environment (tokenReadFrom); `none`: neither */
  tokenSource?: TokenSource;
  tokenReadFrom?: string;
  doctor?: DoctorReport;
}

export type TokenSource = 'config' | 'env' | 'none';

/** What `openclaw doctor --fix --non-interactive` reported doing, item by item, for the record and the human. */
export interface DoctorReport {
  /** migrations and other repairs */
  changed: string[];
  /** what it archived (moved aside) */
  archived: string[];
  /** the skills it disabled */
  disabled: string[];
  /** the user's workspace files it took out of the workspace, each `old -> new` under the state dir, byte for byte */
  moved?: string[];
  /** the user's workspace files it changed in place (the Docker-era original stays in /data/openclaw and the backup) */
  edited?: string[];
}

export interface PreCopyResult {
  userCreated: boolean;
  targetDir: string;
  /** `none` without rsync: the final step after C copies it all with cp -a */
  copiedWith: 'rsync' | 'none';
  targetFiles: number;
  targetBytes: number;
}

export interface DeployPanelResult {
  fetched: boolean;
  /** .panel-release.json */
  release: string;
  /** the Docker-era config's keys brought to the types the panel parses, or left out (no values: tokens); absent
   * in older histories */
  configFixed?: string[];
}

export interface SystemdUnitsResult {
  unitsChanged: boolean;
  gatewayActive: string;
  panelActive: string;
  /** pre-staged units, before C: `disabled` (absent once started) */
  gatewayEnabled?: string;
  panelEnabled?: string;
}

export interface AcceptanceResult {
  passed: boolean;
  failures: string[];
  checks: Record<string, string>;
  /**
   * when the direct gateway and panel had both first answered 200 with the customer's login through their fronts,
   * by the guest's clock: the customer's outage ends here. Absent when one never did, and in the results of
   * workers before the outage was measured (histories replay those)
   */
  answeredAt?: string;
  /**
   * both bots' own listings side by side (the Docker-era one from the scan, absent when the run had none) and what
   * differs without failing, for the human's decision; absent in the results of workers before bots were asked
   */
  bots?: { before?: BotListing; after: BotListing; differences: string[] };
}

export interface RemoveDockerResult {
  /** docker ps -a after the removal */
  output: string;
  /** absent in the results of workers before phase I reported (histories replay those) */
  report?: RemovalReport;
}

/** What phase I did and left, in docker's own words (no figure of ours). */
export interface RemovalReport {
  /** the project's images this run removed (removeImages) */
  imagesRemoved: string[];
  /** `docker image prune -f`'s "Total reclaimed space: …" */
  pruneReclaimed: string;
  /** `docker images`: repository:tag, id, size */
  imagesLeft: string[];
  /** `docker volume ls` */
  volumesLeft: string[];
  /** `docker system df` before the removal and after it: type, total, active, size, reclaimable */
  diskUsageBefore: string[];
  diskUsage: string[];
}

/** The VM's node-side view after the commit: its NAT mappings (external port → guest port) and its ledger row. */
export interface LedgerCommit {
  natMappings: { external: number; guestPort: number }[];
  /** the lowest external port mapped to the VM: the start of its port block */
  portBlock?: number;
  row: string;
}

export interface PhaseResults {
  scan?: ScanResult;
  backup?: BackupResult;
  stopDocker?: StopDockerResult;
  install?: InstallResult;
  /** pre-staged runs: the copy made while Docker ran, and the units written before C */
  preCopy?: PreCopyResult;
  migrateData?: MigrateDataResult;
  deployPanel?: DeployPanelResult;
  stageUnits?: SystemdUnitsResult;
  systemdUnits?: SystemdUnitsResult;
  acceptance?: AcceptanceResult;
  removeDocker?: RemoveDockerResult;
  sharedResources?: LedgerCommit;
}

/**
 * The customer's outage (SOP §1: users must not notice), by the guest's own clock alone: from `docker compose stop`
 * (phase C) until the direct gateway and panel both answered 200 with the login through their fronts (phase H).
 * A run rolled back onto Docker is down until Docker's gateway and panel answer again; when the direct install had
 * answered before the rollback, only the gaps count: until it answered, and from its services' stop on.
 */
export interface Outage {
  ms: number;
  dockerStoppedAt: string;
  /** absent when the direct install never answered (a rolled-back run, or a run before rollbacks were measured) */
  directAnsweredAt?: string;
  /** a rolled-back run: when the rollback stopped the direct services, if they ran */
  directStoppedAt?: string;
  /** a rolled-back run: when Docker's gateway and panel answered again */
  dockerAnsweredAt?: string;
}

/** What a compensation did: a line for the status, and where it ended or resumed the outage, by the guest's clock. */
export interface Undone {
  summary: string;
  directStoppedAt?: string;
  dockerAnsweredAt?: string;
}

export interface PlannedCommand {
  phase: string;
  transport: string;
  command: string;
}
