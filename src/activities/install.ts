import { UNKNOWN, type BotListing, type InstallResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import { failure } from '../failures';
import { releaseIn } from '../inventory';
import type { GuestCommand } from '../remote/guest';
import { keyValues, requiredValue, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/** Phase D (SOP §5.4): node and openclaw on the VM, installed only when missing, and where they really are. */
export const installScript = guestScript('install.sh');

/**
 * The release the run's `openclawVersion` asks for: none with `installer`; `docker` is the Docker-era bot's own, as
 * the scan listed it, and one it could not read fails (OpenclawVersionUnmet) rather than guess.
 */
export function targetRelease(params: MigrateVmParams, bot: BotListing | undefined): string | undefined {
  if (params.openclawVersion === 'installer') return undefined;
  if (params.openclawVersion !== 'docker') return params.openclawVersion;
  const release = bot && bot.version !== UNKNOWN ? releaseIn(bot.version) : undefined;
  if (release) return release;
  throw failure(
    'OpenclawVersionUnmet',
    `openclawVersion 'docker': the scan could not read the Docker-era release (its --version: ${bot?.version ?? 'not listed'})`,
  );
}

/** The release reaches the real installer as OPENCLAW_VERSION through install.sh's second parameter. */
export function installCommand(params: MigrateVmParams, release: string | undefined): GuestCommand {
  return {
    ...phaseCommand('install', params.timeouts),
    script: installScript,
    args: release ? [params.installCommand, release] : [params.installCommand],
  };
}

export async function install(params: MigrateVmParams, bot: BotListing | undefined): Promise<InstallResult> {
  const release = targetRelease(params, bot);
  const result = await runChecked(params, installCommand(params, release));
  const values = keyValues(result.stdout);
  const installed: InstallResult = {
    installedNow: requiredValue(values, 'installed_now') === '1',
    nodePath: requiredValue(values, 'node_path'),
    nodeVersion: requiredValue(values, 'node_version'),
    openclawPath: requiredValue(values, 'openclaw_path'),
    openclawVersion: requiredValue(values, 'openclaw_version'),
  };
  checkRelease(params, release, installed);
  return installed;
}

/** An installed release other than the one the policy asked for fails phase D (OpenclawVersionUnmet), naming both. */
export function checkRelease(params: MigrateVmParams, release: string | undefined, installed: InstallResult): void {
  if (release && releaseIn(installed.openclawVersion) !== release)
    throw failure(
      'OpenclawVersionUnmet',
      `openclawVersion ${params.openclawVersion} asks for ${release}; installed: ${installed.openclawVersion}` +
        (installed.installedNow ? '' : ' (already there: nothing was installed)'),
    );
}
