import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import type { InstallResult } from './install';
import { keyValues, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

type Binaries = Pick<InstallResult, 'nodePath' | 'openclawPath'>;

export const GATEWAY_UNIT = 'openclaw-gateway';
export const PANEL_UNIT = 'openclaw-panel';

export interface UnitFiles {
  gateway: string;
  panel: string;
}

/**
 * The two units of SOP §5.9, with the binaries where the install really put them; with `hardened`, the gateway
 * gets seed 004's sandboxing (the lock clean-up before start, no new privileges, a read-only system).
 */
export function renderUnits(params: MigrateVmParams, binaries: Binaries, runHome: string): UnitFiles {
  const { user, hardened } = params.runAs;
  const hardening = hardened
    ? [
        `ExecStartPre=/bin/bash -c 'rm -f ${runHome}/.openclaw/gateway.*.lock'`,
        'NoNewPrivileges=true',
        'ProtectSystem=strict',
        `ReadWritePaths=${runHome}/.openclaw /tmp`,
        'PrivateTmp=true',
        'SyslogIdentifier=openclaw-gateway',
      ]
    : [];
  const gateway = [
    '[Unit]',
    'Description=OpenClaw Gateway (Direct Install)',
    'After=network.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${user}`,
    `Environment=HOME=${runHome}`,
    `WorkingDirectory=${runHome}`,
    `ExecStart=${binaries.openclawPath} gateway run --bind loopback --port ${params.ports.gateway} --allow-unconfigured`,
    'Restart=always',
    'RestartSec=3',
    ...hardening,
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
    'Type=simple',
    `User=${user}`,
    'WorkingDirectory=/opt/openclaw-panel',
    `ExecStart=${binaries.nodePath} /opt/openclaw-panel/src/server.js`,
    'Restart=always',
    'RestartSec=3',
    'Environment=PANEL_CONFIG_PATH=/etc/openclaw-panel/panel.config.json',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return { gateway: gateway.join('\n'), panel: panel.join('\n') };
}

/** Phase G: the units written when they differ, enabled and started; their texts arrive on stdin as JSON. */
export const systemdUnitsScript = guestScript('systemd-units.sh');

export function unitsCommand(params: MigrateVmParams, binaries: Binaries, runHome: string): GuestCommand {
  return {
    label: 'systemd-units',
    script: systemdUnitsScript,
    stdin: JSON.stringify(renderUnits(params, binaries, runHome)),
    timeoutMs: params.timeouts.commandMs,
  };
}

export interface SystemdUnitsResult {
  unitsChanged: boolean;
  gatewayActive: string;
  panelActive: string;
}

export async function installUnits(
  params: MigrateVmParams,
  binaries: Binaries,
  runHome: string,
): Promise<SystemdUnitsResult> {
  const result = await runChecked(params, unitsCommand(params, binaries, runHome));
  const values = keyValues(result.stdout);
  return {
    unitsChanged: values.get('units_changed')?.[0] === '1',
    gatewayActive: values.get('gateway_active')?.[0] ?? 'unknown',
    panelActive: values.get('panel_active')?.[0] ?? 'unknown',
  };
}
