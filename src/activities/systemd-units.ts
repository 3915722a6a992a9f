import type { InstallResult, SystemdUnitsResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { keyValues, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

type Binaries = Pick<InstallResult, 'nodePath' | 'openclawPath'>;

export const GATEWAY_UNIT = 'openclaw-gateway';
export const PANEL_UNIT = 'openclaw-panel';

export interface UnitFiles {
  gateway: string;
  panel: string;
  /** what the units may write under ProtectSystem=strict: created (owned by the user) before they start, because a
   * ReadWritePaths= entry that does not exist fails the start with 226/NAMESPACE */
  writablePaths: string[];
  user: string;
}

/** Where the panel keeps its config (SOP §5.8); it saves it as a .tmp beside it and renames, so it writes the directory. */
export const PANEL_CONFIG_DIR = '/etc/openclaw-panel';

/**
 * The two units of SOP §5.9, with the binaries where the install really put them. With `hardened`, seed 004's
 * sandboxing for both: the gateway's lock clean-up before it starts, no new privileges, a read-only system (homes
 * included) but for what each writes (the gateway its ~/.openclaw and ~/.cache; the panel those, its own config
 * directory and its update state), a private /tmp.
 */
export function renderUnits(params: MigrateVmParams, binaries: Binaries, runHome: string): UnitFiles {
  const { user, hardened } = params.runAs;
  const stateDir = `${runHome}/.openclaw`;
  // OpenClaw's temp dir when /tmp/openclaw will not do: ~/.cache/openclaw-<uid> (its gateway, and the CLI the panel runs)
  const cacheDir = `${runHome}/.cache`;
  const sandbox = (writable: string[]) =>
    hardened
      ? [
          'NoNewPrivileges=true',
          'ProtectSystem=strict',
          // strict leaves /home, /root and /run/user writable (they are ProtectHome='s): the home is read-only too
          'ProtectHome=read-only',
          `ReadWritePaths=${writable.join(' ')}`,
          'PrivateTmp=true',
        ]
      : [];
  const gateway = [
    '[Unit]',
    'Description=OpenClaw Gateway (Direct Install)',
    'After=network.target',
    '',
    '[Service]',
    // exec: a start that cannot set up its sandbox or run the binary fails `systemctl start` itself
    `Type=${hardened ? 'exec' : 'simple'}`,
    `User=${user}`,
    `Environment=HOME=${runHome}`,
    `WorkingDirectory=${runHome}`,
    // seed 004's clean-up of the locks a killed gateway left; OpenClaw 2026.9 keeps them in tmp/openclaw-<uid>/
    ...(hardened
      ? [`ExecStartPre=/bin/bash -c 'rm -f ${stateDir}/gateway.*.lock ${stateDir}/tmp/openclaw-*/gateway.*.lock'`]
      : []),
    `ExecStart=${binaries.openclawPath} gateway run --bind loopback --port ${params.ports.gateway} --allow-unconfigured`,
    'Restart=always',
    'RestartSec=3',
    ...sandbox([stateDir, cacheDir]),
    ...(hardened ? ['SyslogIdentifier=openclaw-gateway'] : []),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  const panel = [
    '[Unit]',
    'Description=OpenClaw Visual Panel',
    'After=network.target',
    '',
    '[Service]',
    `Type=${hardened ? 'exec' : 'simple'}`,
    `User=${user}`,
    'WorkingDirectory=/opt/openclaw-panel',
    `ExecStart=${binaries.nodePath} /opt/openclaw-panel/src/server.js`,
    'Restart=always',
    'RestartSec=3',
    `Environment=PANEL_CONFIG_PATH=${PANEL_CONFIG_DIR}/panel.config.json`,
    ...sandbox([PANEL_CONFIG_DIR, stateDir, cacheDir]),
    // /var/lib/openclaw-panel (the panel's update state), made by systemd for the unit's user and writable in it
    ...(hardened ? ['StateDirectory=openclaw-panel'] : []),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return {
    gateway: gateway.join('\n'),
    panel: panel.join('\n'),
    writablePaths: hardened ? [stateDir, cacheDir, PANEL_CONFIG_DIR] : [],
    user,
  };
}

/** Phase G: the units written when they differ, enabled and started; their texts arrive on stdin as JSON. */
export const systemdUnitsScript = guestScript('systemd-units.sh');

export function unitsCommand(params: MigrateVmParams, binaries: Binaries, runHome: string): GuestCommand {
  return {
    ...phaseCommand('systemd-units', params.timeouts),
    script: systemdUnitsScript,
    stdin: JSON.stringify(renderUnits(params, binaries, runHome)),
  };
}

/** G₁ of a pre-staged run (before C): the same units written, left disabled and stopped. */
export const stageUnitsCommand = (params: MigrateVmParams, binaries: Binaries, runHome: string): GuestCommand => ({
  ...unitsCommand(params, binaries, runHome),
  ...phaseCommand('stage-units', params.timeouts),
  args: ['stage'],
});

async function runUnits(params: MigrateVmParams, command: GuestCommand): Promise<SystemdUnitsResult> {
  const values = keyValues((await runChecked(params, command)).stdout);
  const [gatewayEnabled, panelEnabled] = ['gateway_enabled', 'panel_enabled'].map((key) => values.get(key)?.[0]);
  return {
    unitsChanged: values.get('units_changed')?.[0] === '1',
    gatewayActive: values.get('gateway_active')?.[0] ?? 'unknown',
    panelActive: values.get('panel_active')?.[0] ?? 'unknown',
    ...(gatewayEnabled !== undefined && { gatewayEnabled }),
    ...(panelEnabled !== undefined && { panelEnabled }),
  };
}

export const systemdUnits = (params: MigrateVmParams, binaries: Binaries, runHome: string) =>
  runUnits(params, unitsCommand(params, binaries, runHome));

export const stageUnits = (params: MigrateVmParams, binaries: Binaries, runHome: string) =>
  runUnits(params, stageUnitsCommand(params, binaries, runHome));
