/**
 * Every patch id the workflows pass to patched(), in one place (as src/failures.ts is for failure types): a run
 * started before a change replays without it, one started after takes it. An id, once deployed, never changes.
 */
export const patches = {
  /** migrateVm: a run shows itself in the scan once (it upserted and told its fleet twice as it started) */
  scanEnteredOnce: 'scan-entered-once',
  /** migrateVm: a fleet's child took a `fleetGate` signal naming its own fleet only */
  gateFromItsFleetOnly: 'fleet-gate-from-its-fleet-only',
  /** migrateVm: the outage, once measured, goes with every progress signal */
  outageInFleetProgress: 'outage-in-fleet-progress',
  /** migrateVm and migrateFleet: a child at the gate asked, and its fleet answered with a `fleetGate` signal */
  gateAnswer: 'fleet-answers-a-child-at-its-gate',
  /**
   * migrateVm: a child reads its gate from its parent fleet's own state (a query by the parent's run id); a lone run
   * has no gate; a `fleetGate` signal only makes a child read again
   */
  gateReadFromTheFleet: 'gate-read-from-the-fleet',
  /**
   * migrateFleet: the gate changes through `setFleetGate` only (a `fleetGate` signal is ignored), and a `vmProgress`
   * signal makes the fleet read the child's status from the child run it started, never taken as it comes
   */
  fleetTrustsOnlyWhatItReads: 'fleet-trusts-only-what-it-reads',
  /**
   * sharedResourceLock and commitSharedResources: the lock is released when its holder's run ends (no token), and a
   * grant is believed only once the lock names the run as its holder
   */
  lockHeldUntilItsHolderEnds: 'lock-held-until-its-holder-ends',
  /**
   * migrateFleet: tells the worker's webhooks (the `notify` activity, never awaited in a VM's path) of its gate, its
   * children awaiting approval, rolling back, rolled back or failed, and of its end; counts what was not delivered
   */
  fleetNotifies: 'fleet-notifies',
  /**
   * migrateVm: a lone run tells the worker's webhooks of itself (awaiting approval, reminders, rollback, failure); a
   * fleet's child tells its approval reminders only, its fleet tells the rest
   */
  vmNotifies: 'vm-notifies',
  /**
   * migrateFleet: the canary is each node's first `canary` VMs (started before any other VM, one at a time on its
   * node), and a node's `concurrency` bounds its VMs in flight; before, the canary was the inventory's first VMs
   * and only the fleet's concurrency counted
   */
  fleetSpansNodes: 'fleet-spans-nodes',
  /**
   * migrateVm: a run with a maintenance window (input `window`, issue 23) waits for it before C, and before I when
   * the window says so, on a durable timer; migrateFleet hands each child the longest cutover measured so far
   */
  maintenanceWindow: 'maintenance-window',
  /**
   * migrateFleet with `prestageAhead` (issue 23): starts up to that many VMs more than `concurrency`, grants the
   * cutover slots, and counts a VM that stood down as skipped; migrateVm with `holdForCutover` waits before C for its
   * slot, read from its fleet, and undoes its pre-staging when none will come
   */
  prestageAhead: 'prestage-ahead',
  /**
   * migrateVm: a run that knows its node (input `nodeName`, issue 22) upserts the `NodeName` search attribute with
   * its phase; before, it upserted VmId and MigrationPhase only
   */
  nodeNameAttribute: 'node-name-search-attribute',
  /**
   * migrateVm: each phase's activity has its phase's name (`preCopy`, `systemdUnits`, `acceptance`); before, three had
   * names of their own (a row's `recordedAs`, src/migration/phases.ts)
   */
  activitiesNamedAsPhases: 'activities-named-as-phases',
} as const;
