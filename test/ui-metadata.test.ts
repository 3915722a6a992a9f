import { fleetSummary, migrationDetails, migrationSummary } from '../src/migration/ui-metadata';
import type { MigrationStatus } from '../src/migration/messages';

describe('what the Temporal UI shows', () => {
  const status: MigrationStatus = {
    vmid: 105,
    phase: 'rolling-back',
    phases: [{ name: 'acceptance', status: 'failed', startedAt: 'a', error: 'gateway front: 500,\nexpected 401' }],
    results: {},
    fleetGate: { open: false, reason: 'vm 106 failed' },
    problems: [],
    rollback: [],
  };

  it('summarises a run in one line, its name with no control characters', () => {
    expect(migrationSummary({ vmid: 105, name: 'shop\n# forged', fleetId: 'migrate-fleet-default' })).toBe(
      'Migration of VM 105 (shop # forged) from Docker to the direct install, fleet migrate-fleet-default',
    );
    expect(migrationSummary({ vmid: 105, dryRun: true })).toBe('Dry run of VM 105 from Docker to the direct install');
    expect(migrationSummary({ vmid: 105, node: '9900K-1' })).toBe(
      'Migration of VM 105 on node 9900K-1 from Docker to the direct install',
    );
    expect(fleetSummary({ fleetId: 'migrate-fleet-a', vms: 3, concurrency: 2, dryRun: false })).toBe(
      'Migration of fleet migrate-fleet-a: 3 VMs, 2 at a time',
    );
  });

  it('details the phase, the failed acceptance and the closed gate', () => {
    expect(migrationDetails(status)).toBe(
      [
        '**Phase:** rolling-back',
        '**Acceptance:** failed: gateway front: 500, expected 401',
        '**Fleet gate:** closed (vm 106 failed)',
      ].join('\n\n'),
    );
  });

  it("names a phase's place in the SOP, stage letter and section, as the table of the phases has them", () => {
    expect(
      migrationDetails({ ...status, phase: 'stop-docker', phases: [], fleetGate: { open: true, reason: '' } }),
    ).toBe('**Phase:** stop-docker (SOP §5.3, stage C)');
    expect(
      migrationDetails({ ...status, phase: 'shared-resources', phases: [], fleetGate: { open: true, reason: '' } }),
    ).toBe('**Phase:** shared-resources (SOP §2.3)');
  });
});
