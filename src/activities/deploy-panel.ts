import type { DeployPanelResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { urlUnder } from '../schema';
import { keyValues, requiredValue, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Phase F (SOP §5.7, §5.8): the panel release into /opt/openclaw-panel, then its direct-install config, in the
 * panel's types and owned by the user it runs as.
 */
export const deployPanelScript = guestScript('deploy-panel.sh');

export function deployPanelCommand(params: MigrateVmParams): GuestCommand {
  const { tag, repo, baseUrl } = params.panelRelease;
  return {
    ...phaseCommand('deploy-panel', params.timeouts),
    script: deployPanelScript,
    args: [
      tag,
      repo,
      releaseTarballUrl(baseUrl, repo, tag),
      params.runAs.user,
      String(params.ports.panel),
      String(params.ports.gateway),
    ],
  };
}

/** GitHub's tarball of a release tag (its REST API's path), under the checked base URL and in canonical form. */
export function releaseTarballUrl(baseUrl: string, repo: string, tag: string): string {
  return urlUnder(baseUrl, `repos/${repo}/tarball/${tag}`);
}

export async function deployPanel(params: MigrateVmParams): Promise<DeployPanelResult> {
  const result = await runChecked(params, deployPanelCommand(params));
  const values = keyValues(result.stdout);
  return {
    fetched: requiredValue(values, 'fetched') === '1',
    release: requiredValue(values, 'release'),
    configFixed: values.get('config_fixed') ?? [],
  };
}
