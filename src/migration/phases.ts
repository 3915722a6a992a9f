import type { BotListing, InstallResult, PhaseResults } from './contracts';

/** Which of migrateVm's activity options a phase runs with: a minute, the command timeout, the install timeout. */
export type PhaseTimeout = 'quick' | 'command' | 'install';

/** What a phase's activity may take besides the run's params: the run's id, or what an earlier phase answered. */
export interface PhaseInputs {
  runId: string;
  installed: InstallResult;
  runHome: string;
  /** the Docker-era bot's own listing; absent from scans of workers before it was kept */
  bot: BotListing | undefined;
}
export type PhaseInput = keyof PhaseInputs;

/** Each input taken from the run's id and the results so far; one taken before its phase ran is the table's bug. */
export const phaseInputs: { [K in PhaseInput]: (results: PhaseResults, runId: string) => PhaseInputs[K] } = {
  runId: (_, runId) => runId,
  installed: ({ install }) => install ?? notYet('install'),
  runHome: ({ scan }) => scan?.runHome ?? notYet('scan'),
  bot: ({ scan }) => scan?.bot,
};
function notYet(phase: string): never {
  throw new Error(`the phase table runs a phase that takes ${phase}'s result before ${phase}`);
}

export interface PhaseDefinition {
  name: string;
  /** the SOP's stage letter (§4), when it has one, and its section (../shared/seeds/001_*.txt) */
  stage?: string;
  sop: string;
  /**
   * the activity that runs it (the workflow checks each against src/activities' own signature); none for the one a
   * child workflow runs
   */
  activity?: string;
  /**
   * the name its activity had in histories recorded before patch `activitiesNamedAsPhases`, which replay with it (the
   * worker answers to both names: an attempt scheduled before an upgrade runs after it)
   */
  recordedAs?: string;
  /** what its activity takes after the run's params, in order: see `PhaseInputs` */
  takes?: readonly PhaseInput[];
  timeout: PhaseTimeout;
  /** its guest command's own timeout when its class's is too short for it; within the class's activity bound */
  commandMs?: number;
  /** where it is kept in the status's results */
  resultKey: keyof PhaseResults;
  /** where its commands run */
  runsOn: 'guest' | 'node';
  /** it runs only after a human approved the migration (SOP §4: I after the user's acceptance) */
  afterApproval: boolean;
  /** what undoes it, registered before it runs: a rollback runs the registered ones newest first */
  compensation?: { name: string; activity: string; timeout: PhaseTimeout };
  /** a step of pre-staged runs only (`prestage`), done while Docker still runs: see `phaseOrder` */
  prestaged?: true;
  /**
   * it starts only inside the run's maintenance window (src/migration/window.ts): 'outage' whenever the run has one
   * (the customer's outage starts here), 'removal' when the window says `removeDocker` too
   */
  window?: 'outage' | 'removal';
}

/**
 * The phases of a migration, in the SOP's order (§4), with the two steps of pre-staged runs beside the phases they
 * prepare: what runs each, where its result is kept, what undoes it. migrateVm runs them by this table, and the
 * plan, the record, the fleet's progress rules and the tests read it.
 */
export const phases = [
  {
    name: 'scan',
    stage: 'A',
    sop: '§5.1',
    activity: 'scan',
    timeout: 'quick',
    // the bot's CLI calls are Node starts, a few side by side
    commandMs: 150_000,
    resultKey: 'scan',
    runsOn: 'guest',
    afterApproval: false,
  },
  {
    name: 'backup',
    stage: 'B',
    sop: '§5.2',
    activity: 'backup',
    takes: ['runId'],
    timeout: 'command',
    resultKey: 'backup',
    runsOn: 'guest',
    afterApproval: false,
  },
  {
    name: 'stop-docker',
    stage: 'C',
    sop: '§5.3',
    activity: 'stopDocker',
    timeout: 'command',
    resultKey: 'stopDocker',
    runsOn: 'guest',
    afterApproval: false,
    compensation: { name: 'docker compose start', activity: 'startDocker', timeout: 'command' },
    window: 'outage',
  },
  {
    name: 'install',
    stage: 'D',
    sop: '§5.4',
    activity: 'install',
    // `openclawVersion: docker` installs the release the scan's bot listing read
    takes: ['bot'],
    timeout: 'install',
    resultKey: 'install',
    runsOn: 'guest',
    afterApproval: false,
  },
  {
    // E₁ of a pre-staged run: rsync -aHAX while Docker runs; migrate-data, after C, copies the difference
    name: 'pre-copy',
    stage: 'E',
    sop: '§5.5',
    activity: 'preCopy',
    recordedAs: 'preCopyData',
    timeout: 'command',
    resultKey: 'preCopy',
    runsOn: 'guest',
    afterApproval: false,
    prestaged: true,
  },
  {
    name: 'migrate-data',
    stage: 'E',
    sop: '§5.5, §5.6',
    activity: 'migrateData',
    timeout: 'command',
    resultKey: 'migrateData',
    runsOn: 'guest',
    afterApproval: false,
    compensation: { name: 'openclaw.json from its .bak', activity: 'restoreGatewayConfig', timeout: 'quick' },
  },
  {
    name: 'deploy-panel',
    stage: 'F',
    sop: '§5.7, §5.8',
    activity: 'deployPanel',
    timeout: 'command',
    resultKey: 'deployPanel',
    runsOn: 'guest',
    afterApproval: false,
  },
  {
    // G₁ of a pre-staged run: the units written, neither enabled nor started (Docker holds their ports until C)
    name: 'stage-units',
    stage: 'G',
    sop: '§5.9',
    activity: 'stageUnits',
    takes: ['installed', 'runHome'],
    timeout: 'command',
    resultKey: 'stageUnits',
    runsOn: 'guest',
    afterApproval: false,
    prestaged: true,
    compensation: {
      name: 'stop, disable and remove the direct units',
      activity: 'removeDirectUnits',
      timeout: 'quick',
    },
  },
  {
    name: 'systemd-units',
    stage: 'G',
    sop: '§5.9',
    activity: 'systemdUnits',
    recordedAs: 'installUnits',
    takes: ['installed', 'runHome'],
    timeout: 'command',
    resultKey: 'systemdUnits',
    runsOn: 'guest',
    afterApproval: false,
    compensation: { name: 'stop and disable the direct services', activity: 'stopDirectServices', timeout: 'quick' },
  },
  {
    name: 'acceptance',
    stage: 'H',
    sop: '§5.10',
    activity: 'acceptance',
    recordedAs: 'acceptanceGate',
    takes: ['runHome', 'bot'],
    timeout: 'command',
    resultKey: 'acceptance',
    runsOn: 'guest',
    afterApproval: false,
  },
  {
    name: 'remove-docker',
    stage: 'I',
    sop: '§6',
    activity: 'removeDocker',
    timeout: 'command',
    resultKey: 'removeDocker',
    runsOn: 'guest',
    afterApproval: true,
    window: 'removal',
  },
  {
    name: 'shared-resources',
    sop: '§2.3',
    timeout: 'quick',
    resultKey: 'sharedResources',
    runsOn: 'node',
    afterApproval: true,
  },
] as const satisfies readonly PhaseDefinition[];

export type Phase = (typeof phases)[number];
export type PhaseName = Phase['name'];
export const phaseNames = phases.map((phase) => phase.name);
/** The phases whose commands run in the guest (all but the node's shared resources). */
export type GuestPhase = Extract<Phase, { runsOn: 'guest' }>;
export type GuestPhaseName = GuestPhase['name'];

export function phaseNamed<N extends PhaseName>(name: N): Extract<Phase, { name: N }> {
  return phases.find((phase) => phase.name === name) as Extract<Phase, { name: N }>;
}

type Timeouts = { commandMs: number; installMs: number };

/**
 * A guest command's own timeout in a phase or compensation of this class. migrateVm bounds the activity
 * ACTIVITY_MARGIN_MS above it, so the command's timeout fires (and kills it) before the activity's start-to-close.
 */
export function classTimeoutMs(timeout: PhaseTimeout, timeouts: Timeouts): number {
  return { quick: 60_000, command: timeouts.commandMs, install: timeouts.installMs }[timeout];
}

/** How much longer than its class's command timeout an activity may run (its start-to-close). */
export const ACTIVITY_MARGIN_MS = 120_000;

/** A phase's guest command: labelled with the phase's name, its timeout its row's (`commandMs`) or its class's. */
export function phaseCommand(name: GuestPhaseName, timeouts: Timeouts): { label: GuestPhaseName; timeoutMs: number } {
  const phase: Phase = phaseNamed(name);
  return { label: name, timeoutMs: 'commandMs' in phase ? phase.commandMs : classTimeoutMs(phase.timeout, timeouts) };
}

type Compensation = Extract<Phase, { compensation: object }>['compensation'];
export type CompensationActivity = Compensation['activity'];

/** The class of the compensation that this activity runs, by the table. */
export function compensationTimeout(activity: CompensationActivity): PhaseTimeout {
  const compensations: readonly Compensation[] = phases.flatMap((p) => ('compensation' in p ? [p.compensation] : []));
  return compensations.find((compensation) => compensation.activity === activity)!.timeout;
}

/**
 * A pre-staged run (`prestage`, issue 13) before the human's decision: the verified backup first as ever, then what
 * does not need Docker stopped while it still serves (D, the pre-copy E₁, F, the units written G₁), and only then
 * C, the final copy of the difference with the lease clean-up and the §5.6 patch (E₂), the units started (G₂), H.
 */
const prestagedBeforeDecision = everyOf<Extract<Phase, { afterApproval: false }>['name']>()([
  'scan',
  'backup',
  'install',
  'pre-copy',
  'deploy-panel',
  'stage-units',
  'stop-docker',
  'migrate-data',
  'systemd-units',
  'acceptance',
] as const);

/** The list as written, which the compiler refuses unless it names every one of `All` (a new row, say). */
function everyOf<All extends string>() {
  return <L extends readonly All[]>(
    list: L & ([Exclude<All, L[number]>] extends [never] ? unknown : { missing: Exclude<All, L[number]> }),
  ): L => list;
}

/** The phases a run goes through, in the order it does: the SOP's (§4), or pre-staged. */
export function phaseOrder(prestage: boolean): readonly Phase[] {
  const afterDecision = phases.filter((phase) => phase.afterApproval);
  if (prestage) return [...prestagedBeforeDecision.map((name) => phaseNamed(name)), ...afterDecision];
  return phases.filter((phase) => !('prestaged' in phase));
}

/** What a run is in besides a phase: waiting, rolling back, or at its end. */
const waits = ['awaiting-approval', 'awaiting-fleet-gate'] as const;
/** Waiting for its maintenance window to open (or to have enough left), before C; and before I when asked. */
export const windowWait = 'awaiting-window' as const;
/**
 * Pre-staged ahead (a fleet's `prestageAhead`, issue 23): waiting, before C, for its fleet to grant one of the
 * `concurrency` cutover slots; before the window, so that a slot is never taken by a run whose window is still shut.
 */
export const cutoverSlotWait = 'awaiting-cutover-slot' as const;
const ends = ['rolling-back', 'completed', 'rolled-back', 'failed', 'planned'] as const;
/** Where a run has ended: every end but the rollback under way. */
export const terminalPhases = ends.filter(
  (end): end is Exclude<(typeof ends)[number], 'rolling-back'> => end !== 'rolling-back',
);

/**
 * Where a run goes when nothing fails: its phases, its window before C (a run without one skips it), with the human's
 * decision and the fleet's gate before I.
 */
export function runOrderOf(prestage: boolean): readonly MigrationPhase[] {
  const order = phaseOrder(prestage);
  return [
    'starting',
    ...order
      .filter((phase) => !phase.afterApproval)
      .flatMap((phase) => (phase.name === 'stop-docker' ? [cutoverSlotWait, windowWait, phase.name] : [phase.name])),
    ...waits,
    ...order.filter((phase) => phase.afterApproval).map((phase) => phase.name),
    'completed',
  ];
}

/** Every value of a run's phase (the status, the search attribute, the fleet's progress signal). */
export const migrationPhases = ['starting', ...phaseNames, ...waits, windowWait, cutoverSlotWait, ...ends] as const;
export type MigrationPhase =
  'starting' | PhaseName | (typeof waits)[number] | typeof windowWait | typeof cutoverSlotWait | (typeof ends)[number];
