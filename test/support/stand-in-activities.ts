import { Context } from '@temporalio/activity';
import { failure } from '../../src/failures';
import * as activities from '../../src/activities';
import type { MigrateVmParams } from '../../src/migration/input';
import type { PhaseResults } from '../../src/migration/contracts';
import { phases, type PhaseName } from '../../src/migration/phases';

export interface StandInOptions {
  /** how long each phase takes, its compensation, the ledger's commit and the record */
  phaseMs: number;
  /** how long these phases take instead (the benchmark's real VM, scaled) */
  phaseMsOf?: Partial<Record<PhaseName, number>>;
  /** these VMs fail their acceptance checks, as the lab's gateway-500 guest does */
  failAcceptance?: readonly number[];
  /** a phase's failure for a VM and attempt, if it fails (the stand-in answers when none is given) */
  fail?: Partial<Record<PhaseName, (params: MigrateVmParams, attempt: number) => Error | undefined>>;
}

/** What each phase answers, as kept in the status's results. */
const STAND_IN_RESULTS: Required<Omit<PhaseResults, 'sharedResources'>> = {
  scan: {
    vmStatus: 'running',
    hostname: 'stand-in',
    os: 'Debian GNU/Linux 12',
    runHome: '/root',
    existing: ['/data/openclaw', '/data/panel', '/opt/openclaw'],
    missing: ['/root/.openclaw'],
    sourceSessions: 3,
    sourceWorkspace: 300,
    backupBytes: 1 << 20,
    freeBytes: 1 << 30,
    evidence: '',
  },
  backup: { dir: '/root/migrate-backup', reused: false, sha256: [], sizes: [] },
  stopDocker: { containers: '' },
  install: {
    installedNow: true,
    nodePath: '/usr/bin/node',
    nodeVersion: 'v24',
    openclawPath: '/usr/bin/openclaw',
    openclawVersion: '2026.9.6',
  },
  preCopy: {
    userCreated: false,
    targetDir: '/root/.openclaw',
    copiedWith: 'rsync',
    targetFiles: 303,
    targetBytes: 1 << 20,
  },
  migrateData: {
    targetDir: '/root/.openclaw',
    copiedWith: 'rsync',
    configBackup: '/root/.openclaw/openclaw.json.bak',
    configBackupCreated: true,
    targetSessions: 3,
    targetWorkspace: 300,
  },
  deployPanel: { fetched: true, release: '{}' },
  stageUnits: {
    unitsChanged: true,
    gatewayActive: 'inactive',
    panelActive: 'inactive',
    gatewayEnabled: 'disabled',
    panelEnabled: 'disabled',
  },
  systemdUnits: { unitsChanged: true, gatewayActive: 'active', panelActive: 'active' },
  acceptance: { passed: true, failures: [], checks: {} },
  removeDocker: { output: '' },
};

const HEARTBEAT_EVERY_MS = 5000;

/** Where C and H report the guest's clock: stamped as the stand-in answers, so each run measures an outage. */
const GUEST_CLOCK: Partial<Record<keyof PhaseResults, string>> = { stopDocker: 'stoppedAt', acceptance: 'answeredAt' };

/**
 * Every phase's activity of the table (src/migration/phases.ts) and its compensation replaced by one that waits
 * `phaseMs` and answers like the phase, for what the lab cannot host: fleets of hundreds (the benchmark) and the
 * fleet's own logic, fast. The workflows, the lock, the server and the worker stay real; the lock's request
 * (signal-with-start) is the real activity. `fail` makes a phase fail for the VMs it names.
 */
export function standInActivities({
  phaseMs,
  phaseMsOf = {},
  failAcceptance = [],
  fail = {},
}: StandInOptions): typeof activities {
  // heartbeating as the real phases do: a phase longer than its heartbeat timeout (15 s) is alive, not lost
  const wait = async (phase?: PhaseName) => {
    const context = Context.current();
    for (let left = (phase && phaseMsOf[phase]) ?? phaseMs; left > 0; left -= HEARTBEAT_EVERY_MS) {
      await context.sleep(Math.min(left, HEARTBEAT_EVERY_MS));
      context.heartbeat();
    }
  };
  const failures: StandInOptions['fail'] = {
    acceptance: (params) =>
      failAcceptance.includes(params.vmid)
        ? failure('AcceptanceFailed', `acceptance of vm ${params.vmid} failed: gateway_direct 500`)
        : undefined,
    ...fail,
  };
  const standIns: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const phase of phases) {
    if (!('activity' in phase)) continue;
    standIns[phase.activity] = async (params: MigrateVmParams) => {
      await wait(phase.name);
      const planted = failures[phase.name]?.(params, Context.current().info.attempt);
      if (planted) throw planted;
      const clock = GUEST_CLOCK[phase.resultKey];
      return { ...STAND_IN_RESULTS[phase.resultKey], ...(clock && { [clock]: new Date().toISOString() }) };
    };
    if ('compensation' in phase)
      standIns[phase.compensation.activity] = async () => (await wait(), `stand-in of ${phase.compensation.name}`);
  }
  return {
    ...activities,
    ...standIns,
    commitLedgerEntry: async ({ entry }) => (await wait(), { natMappings: [], row: String(entry.vmid) }),
    writeRecord: async () => (await wait(), '/root/record.md'),
  };
}
