import type { DockerTokenSource as TokenSource, ScanResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { botListingScript, parseBotListing } from './bot-listing';
import { keyValues, requiredValue, qm, refuse, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Phase A (SOP §5.1), read-only: what the VM runs and holds, whether it can be migrated at all, whether it has
 * the tools the phases run, and what the Docker-era bot itself lists. $1 = run-as user.
 */
export const scanScript = `${botListingScript}\n${guestScript('scan.sh')}`;

export function scanCommand(params: MigrateVmParams): GuestCommand {
  return { ...phaseCommand('scan', params.timeouts), script: scanScript, args: [params.runAs.user] };
}

export async function scan(params: MigrateVmParams): Promise<ScanResult> {
  let vmStatus = 'running';
  if (params.transport === 'qga') {
    const status = await qm(params, ['status', String(params.vmid)]);
    vmStatus = status.stdout.trim().replace(/^status: /, '');
    if (status.exitCode !== 0) refuse('PreflightRefused', `qm status ${params.vmid} failed: ${status.stderr.trim()}`);
    if (vmStatus !== 'running') refuse('PreflightRefused', `vm ${params.vmid} is ${vmStatus}, not running`);
    const ping = await qm(params, ['guest', 'cmd', String(params.vmid), 'ping']);
    if (ping.exitCode !== 0) {
      refuse('PreflightRefused', `vm ${params.vmid}'s guest agent does not answer: ${ping.stderr.trim()}`);
    }
  }
  const result = await runChecked(params, scanCommand(params));
  const values = keyValues(result.stdout);
  const toolsMissing = values.get('tool_missing') ?? [];
  // first: what the scan reads next (the bot's listings, the token's source) needs these tools itself
  if (toolsMissing.length > 0) {
    refuse(
      'PreflightRefused',
      `vm ${params.vmid} lacks what the migration runs: ${toolsMissing.join(', ')}. Install it and start again`,
    );
  }
  const scanned: ScanResult = {
    vmStatus,
    hostname: requiredValue(values, 'hostname'),
    os: requiredValue(values, 'os'),
    runHome: requiredValue(values, 'run_home'),
    runUserMissing: values.has('run_user_missing'),
    // the run-as user's home is /root for root: one path, looked at twice
    existing: [...new Set(values.get('exists'))],
    missing: [...new Set(values.get('missing'))],
    toolsMissing,
    sourceSessions: Number(requiredValue(values, 'source_sessions')),
    sourceWorkspace: Number(requiredValue(values, 'source_workspace')),
    backupBytes: Number(requiredValue(values, 'backup_bytes')),
    freeBytes: Number(requiredValue(values, 'free_bytes')),
    evidence: result.stdout.slice(result.stdout.indexOf('--- docker ps')),
    bot: parseBotListing(values),
    tokenSource: tokenSource(requiredValue(values, 'token_source')),
  };
  // the units name the home (HOME=, WorkingDirectory=, ReadWritePaths=): a plain absolute path, nothing to quote
  if (!/^\/[\w.@/-]*$/.test(scanned.runHome)) {
    refuse(
      'PreflightRefused',
      `user '${params.runAs.user}' has the home '${scanned.runHome}', which a unit cannot name`,
    );
  }
  if (!scanned.existing.includes('/data/openclaw')) {
    refuse('PreflightRefused', `vm ${params.vmid} has no /data/openclaw: nothing to migrate`);
  }
  if (values.has('docker_removed')) {
    refuse(
      'PreflightRefused',
      `vm ${params.vmid} was migrated already (its Docker was removed ${requiredValue(values, 'docker_removed')}): ` +
        'the direct install is the live one, and a new migration would copy the old Docker-era data over it',
    );
  }
  if (values.has('target_foreign')) {
    refuse('PreflightRefused', `${scanned.runHome}/.openclaw on vm ${params.vmid} already holds data that is not ours`);
  }
  // The tarballs are at most the size of what they hold (gzip of incompressible data adds little).
  if (scanned.freeBytes < scanned.backupBytes * 1.1 + 64 * 1024 * 1024) {
    refuse(
      'PreflightRefused',
      `vm ${params.vmid} has ${scanned.freeBytes} bytes free in /root, too few for a backup of ${scanned.backupBytes} bytes`,
    );
  }
  return scanned;
}

function tokenSource(text: string): TokenSource {
  if (text === 'config' || text === 'environment' || text === 'none') return text;
  throw new Error(`the guest's token_source is '${text}'`);
}
