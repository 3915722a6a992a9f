import { ApplicationFailure, Context } from '@temporalio/activity';
import * as activities from '../../src/activities';
import type { MigrateVmParams } from '../../src/migration/input';

export interface StandInOptions {
  /** how long each phase takes */
  phaseMs: number;
  /** these VMs fail their acceptance checks, as the lab's gateway-500 guest does */
  failAcceptance?: readonly number[];
}

/**
 * Every phase's activity replaced by one that waits `phaseMs` and answers like the phase, for what the lab cannot
 * host: fleets of hundreds (the benchmark) and the fleet's own logic, fast. The workflows, the lock, the server and
 * the worker stay real; the lock's request (signal-with-start) is the real activity.
 */
export function standInActivities({ phaseMs, failAcceptance = [] }: StandInOptions): typeof activities {
  const wait = () => Context.current().sleep(phaseMs);
  return {
    ...activities,
    scan: async () => (
      await wait(),
      {
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
      }
    ),
    backup: async () => (await wait(), { dir: '/root/migrate-backup', reused: false, sha256: [], sizes: [] }),
    stopDocker: async () => (await wait(), { containers: '' }),
    install: async () => (
      await wait(),
      {
        installedNow: true,
        nodePath: '/usr/bin/node',
        nodeVersion: 'v24',
        openclawPath: '/usr/bin/openclaw',
        openclawVersion: '2026.9.6',
      }
    ),
    migrateData: async () => (
      await wait(),
      {
        targetDir: '/root/.openclaw',
        copiedWith: 'rsync',
        configBackup: '/root/.openclaw/openclaw.json.bak',
        configBackupCreated: true,
        targetSessions: 3,
        targetWorkspace: 300,
      }
    ),
    deployPanel: async () => (await wait(), { fetched: true, release: '{}' }),
    installUnits: async () => (await wait(), { unitsChanged: true, gatewayActive: 'active', panelActive: 'active' }),
    acceptanceGate: async (params: MigrateVmParams) => {
      await wait();
      if (failAcceptance.includes(params.vmid))
        throw ApplicationFailure.create({
          type: 'AcceptanceFailed',
          message: `acceptance of vm ${params.vmid} failed: gateway_direct 500`,
          nonRetryable: true,
        });
      return { passed: true, failures: [], checks: {} };
    },
    removeDocker: async () => (await wait(), { output: '' }),
    stopDirectServices: async () => (await wait(), 'stopped'),
    restoreGatewayConfig: async () => (await wait(), 'restored'),
    startDocker: async () => (await wait(), 'started'),
    commitLedgerEntry: async ({ entry }) => (await wait(), { natMappings: [], row: String(entry.vmid) }),
    writeRecord: async () => (await wait(), '/root/record.md'),
  };
}
