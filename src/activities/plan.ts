import type { MigrateVmParams } from '../migration/input';
import type { PlannedCommand } from '../migration/messages';
import type { GuestCommand } from '../remote/guest';
import { shellCommand } from '../remote/shell-quote';
import { acceptanceCommand } from './acceptance';
import { backupCommand, verifyBackupCommand } from './backup';
import { deployPanelCommand } from './deploy-panel';
import { installCommand } from './install';
import { migrateDataCommand } from './migrate-data';
import { removeDockerCommand } from './remove-docker';
import { scanCommand } from './scan';
import { stopDockerCommand } from './stop-docker';
import { unitsCommand } from './systemd-units';

/**
 * The dry run's plan: every command each phase would run on this VM, as the operator would type it on the
 * node (qga) or on the VM (ssh), with what it reads on stdin. The units name the binaries where the scan of a
 * real run finds them; the plan shows where the install is expected to put them.
 */
export async function planCommands(params: MigrateVmParams, runHome: string): Promise<PlannedCommand[]> {
  const expectedBinaries = { nodePath: '/usr/bin/node', openclawPath: '/usr/bin/openclaw' };
  const commands: GuestCommand[] = [
    scanCommand(params),
    backupCommand(params, '<run id>'),
    verifyBackupCommand(params, `/root/migrate-backup-${params.vmid}-<TS>`),
    stopDockerCommand(params),
    installCommand(params),
    migrateDataCommand(params),
    deployPanelCommand(params),
    unitsCommand(params, expectedBinaries, runHome),
    acceptanceCommand(params),
    removeDockerCommand(params),
  ];
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
