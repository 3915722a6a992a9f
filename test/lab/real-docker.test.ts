import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestExec, injectFault, labUp } from '../../lab/lab';
import { DOCKER_ERA_IMAGES } from '../../lab/guest-image';
import { waitFor } from '../../lab/shared/wait';
import * as sop from './sop-commands';
import { sopStep, startLab, stopLab, type Lab } from '../support/lab';

/**
 * What the SOP's Docker commands leave behind on a real Docker engine (Debian 12's docker.io), on a guest with
 * the record's `restart: unless-stopped` (105) and one whose compose file says `restart: always` (106).
 */
describe("the SOP's Docker commands on a real Docker", () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ guests: 2, faults: [{ vmid: 106, kind: 'restart-always' }] });
  }, 1_800_000);
  afterAll(() => stopLab(lab), 120_000);

  const containers = (vmid: number) =>
    guestExec(lab, vmid, ['docker', 'ps', '-a', '--format', '{{.Names}} {{.State}}'])
      .stdout.split('\n')
      .sort()
      .join(' ');
  const images = (vmid: number) =>
    guestExec(lab, vmid, ['docker', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])
      .stdout.split('\n')
      .sort()
      .join(' ');
  const step = (vmid: number, script: string) => {
    const result = sopStep(lab, vmid, script);
    expect(result['err-data'] ?? '').not.toMatch(/error/i);
    expect(result.exitcode).toBe(0);
    return result['out-data'] ?? '';
  };

  it('plays restart-always only at up, dockerd-restart only at run time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-'));
    try {
      await expect(labUp({ faults: [{ vmid: 105, kind: 'dockerd-restart' }] }, dir)).rejects.toThrow(
        'lab: fault dockerd-restart is given at run time only',
      );
      expect(readdirSync(dir)).toEqual([]); // refused before anything started
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => injectFault(lab, { vmid: 105, kind: 'restart-always' })).toThrow(
      'lab: fault restart-always is given at up only',
    );
  });

  it('C stops both; a dockerd restart after it brings back restart: always, not unless-stopped', async () => {
    for (const vmid of [105, 106]) {
      step(vmid, sop.stopDocker);
      expect(containers(vmid)).toBe(' openclaw-gateway exited openclaw-panel exited');
    }
    for (const vmid of [105, 106]) injectFault(lab, { vmid, kind: 'dockerd-restart' });
    await waitFor(() => containers(106) === ' openclaw-gateway running openclaw-panel running', {
      timeoutMs: 120_000,
      pollMs: 1000,
      timeoutMessage: `106's containers did not come back after dockerd restarted: ${containers(106)}`,
    });
    expect(containers(105)).toBe(' openclaw-gateway exited openclaw-panel exited');
  });

  it('I: compose down and image prune -f remove the containers and leave the tagged images on disk', () => {
    const removed = step(105, sop.removeDocker);
    expect(removed).toMatch(/^Total reclaimed space: 0B$/m);
    expect(containers(105)).toBe('');
    expect(images(105)).toBe(` ${DOCKER_ERA_IMAGES.panel} ${DOCKER_ERA_IMAGES.gateway}`);
  });
});
