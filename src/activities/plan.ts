import type { MigrateVmParams } from '../migration/input';
import type { BotListing, PlannedCommand } from '../migration/contracts';
import { phaseOrder, type GuestPhase, type GuestPhaseName } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { shellCommand } from '../remote/shell-quote';
import { acceptanceCommand } from './acceptance';
import { backupCommand, verifyBackupCommand } from './backup';
import { deployPanelCommand } from './deploy-panel';
import { installCommand, targetRelease } from './install';
import { migrateDataCommand, preCopyCommand } from './migrate-data';
import { removeDockerCommand } from './remove-docker';
import { scanCommand } from './scan';
import { stopDockerCommand } from './stop-docker';
import { stageUnitsCommand, unitsCommand } from './systemd-units';

/** Where the plan expects the install to put the binaries (a real run's units name where it did). */
const expectedBinaries = { nodePath: '/usr/bin/node', openclawPath: '/usr/bin/openclaw' };

/** The commands each phase in the guest runs, in their order. */
const phaseCommands: Record<
  GuestPhaseName,
  (params: MigrateVmParams, runHome: string, bot: BotListing | undefined) => GuestCommand[]
> = {
  scan: (params) => [scanCommand(params)],
  backup: (params) => [
    backupCommand(params, '<run id>'),
    verifyBackupCommand(params, `/root/migrate-backup-${params.vmid}-<TS>`),
  ],
  'stop-docker': (params) => [stopDockerCommand(params)],
  install: (params, _, bot) => [installCommand(params, targetRelease(params, bot))],
  'pre-copy': (params) => [preCopyCommand(params)],
  'migrate-data': (params) => [migrateDataCommand(params)],
  'deploy-panel': (params) => [deployPanelCommand(params)],
  'stage-units': (params, runHome) => [stageUnitsCommand(params, expectedBinaries, runHome)],
  'systemd-units': (params, runHome) => [unitsCommand(params, expectedBinaries, runHome)],
  acceptance: (params, runHome) => [acceptanceCommand(params, runHome)],
  'remove-docker': (params) => [removeDockerCommand(params)],
};

/**
 * The dry run's plan: every command each phase in the guest would run on this VM, in the order the run would (the
 * SOP's, or pre-staged with `prestage`), as the operator would type it on the node (qga) or on the VM (ssh), with
 * what it reads on stdin. With `openclawVersion: docker` and a Docker-era release the scan could not read, it fails as
 * phase D would (OpenclawVersionUnmet).
 */
export async function planCommands(
  params: MigrateVmParams,
  runHome: string,
  bot?: BotListing,
): Promise<PlannedCommand[]> {
  const commands = phaseOrder(params.prestage)
    .filter((phase): phase is GuestPhase => phase.runsOn === 'guest')
    .flatMap((phase) => phaseCommands[phase.name](params, runHome, bot));
  return commands.map(({ label, script, args = [], stdin }) => {
    const bash = ['/bin/bash', '-c', script, label, ...args];
    const qga = [
      'qm',
      'guest',
      'exec',
      String(params.vmid),
      '--synchronous',
      '0',
      ...(stdin ? ['--pass-stdin', '1'] : []),
      '--',
    ];
    const command = shellCommand(params.transport === 'qga' ? [...qga, ...bash] : bash);
    return {
      phase: label,
      transport: params.transport,
      command: stdin ? `${command} <<'STDIN'\n${stdin}\nSTDIN` : command,
    };
  });
}
