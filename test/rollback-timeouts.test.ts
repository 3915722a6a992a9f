import type { GuestCommand } from '../src/remote/guest';
import * as rollback from '../src/activities/rollback';
import { parseMigrateVmInput } from '../src/migration/input';
import { classTimeoutMs, phases } from '../src/migration/phases';

const sent: GuestCommand[] = [];
jest.mock('../src/activities/guest-command', () => ({
  ...jest.requireActual('../src/activities/guest-command'),
  runChecked: (_params: unknown, command: GuestCommand) => {
    sent.push(command);
    return Promise.resolve({ exitCode: 0, stdout: '', stderr: '' });
  },
}));

/** The compensations' guest commands time out by their class in the phase table, the class their activity runs in. */
describe('rollback timeouts', () => {
  const compensations = phases.flatMap((phase) => ('compensation' in phase ? [phase.compensation] : []));

  it.each([1_000, 10_000, 10 * 60_000])('follow the table with commandMs %i', async (commandMs) => {
    const params = parseMigrateVmInput({
      vmid: 105,
      vmIp: '10.10.10.14',
      node: { host: '127.0.0.1', port: 2222, user: 'root', hostKeySha256: `SHA256:${'A'.repeat(43)}` },
      panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' },
      timeouts: { commandMs },
    });
    for (const compensation of compensations) {
      sent.length = 0;
      await rollback[compensation.activity](params);
      expect(sent).toHaveLength(1);
      const timeoutMs = classTimeoutMs(compensation.timeout, params.timeouts);
      expect([compensation.activity, sent[0].timeoutMs]).toEqual([compensation.activity, timeoutMs]);
      if (compensation.activity === 'startDocker') {
        // start-docker.sh's wait for Docker's answers ($3, seconds) ends within the command's timeout
        const waitS = Number(sent[0].args?.[2]);
        expect(waitS * 1000).toBeLessThan(timeoutMs);
        expect(waitS).toBe(Math.min(150, Math.floor((timeoutMs * 0.8) / 1000)));
      }
    }
  });
});
