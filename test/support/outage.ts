import type { MigrationStatus } from '../../src/migration/messages';

/**
 * A run's outage (the guest's clock) against its phases' times in its status (the workflow's clock; in the lab the
 * guests share the machine's): present and positive, and each of its parts at least as long as from the end of the
 * step that began it to the start of the one that ended it, and shorter than from that step's start to this one's
 * end. Its parts: from C until the direct install answered in H; for a rolled-back run from C, or from the rollback's
 * stop of the direct services, until the rollback's `docker compose start` had Docker answer again.
 */
export function expectOutageWithinPhases(status: MigrationStatus, outageMs = status.outage?.ms): void {
  const at = (name: string, edge: 'startedAt' | 'endedAt') => {
    const phase = status.phases.find((p) => p.name === name);
    if (!phase?.[edge]) throw new Error(`the run has no ${edge} for ${name}`);
    return Date.parse(phase[edge]);
  };
  const { directAnsweredAt, dockerAnsweredAt } = status.outage ?? {};
  const parts: [begun: string, ended: string][] = [];
  if (directAnsweredAt) parts.push(['stop-docker', 'acceptance']);
  if (dockerAnsweredAt) {
    const begun = directAnsweredAt ? 'rollback:stop and disable the direct services' : 'stop-docker';
    parts.push([begun, 'rollback:docker compose start']);
  }
  expect(outageMs).toBeGreaterThan(0);
  expect(parts.length).toBeGreaterThan(0);
  const sum = (edges: (p: [string, string]) => number) => parts.reduce((total, part) => total + edges(part), 0);
  expect(outageMs).toBeGreaterThanOrEqual(sum(([begun, ended]) => at(ended, 'startedAt') - at(begun, 'endedAt')));
  expect(outageMs).toBeLessThan(sum(([begun, ended]) => at(ended, 'endedAt') - at(begun, 'startedAt')));
}
