import type { MigrationStatus } from '../../src/migration/messages';

/**
 * A run's outage (the guest's clock) against its phases' times in its status (the workflow's clock; in the lab the
 * guests share the machine's): present and positive, at least from C's end to H's start (Docker was down all that
 * time), and less than from C's start to H's end (it began in C and ended in H).
 */
export function expectOutageWithinPhases(status: MigrationStatus, outageMs = status.outage?.ms): void {
  const at = (name: string, edge: 'startedAt' | 'endedAt') =>
    Date.parse(status.phases.find((phase) => phase.name === name)![edge]!);
  expect(outageMs).toBeGreaterThan(0);
  expect(outageMs).toBeGreaterThanOrEqual(at('acceptance', 'startedAt') - at('stop-docker', 'endedAt'));
  expect(outageMs).toBeLessThan(at('acceptance', 'endedAt') - at('stop-docker', 'startedAt'));
}
