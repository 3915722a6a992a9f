import { patched } from '@temporalio/workflow';
import { parseMigrateVmInput, type MigrateVmInput } from '../migration/input';
import { outageOf } from '../migration/outage';
import { phaseOrder } from '../migration/phases';
import { MigrationRun, type MigrateVmResult } from './migration-run';
import { patches } from './patches';

/**
 * Migrates one OpenClaw VM from Docker to the direct install, phase by phase as the SOP prescribes
 * (../shared/seeds/001_*.txt): A scan, B verified backup, C stop Docker, D install, E data, F panel,
 * G systemd, H acceptance, then a human decision, and only then I Docker removal. With `prestage`, D, a pre-copy
 * of E, F and G's units come before C, so that Docker is stopped only for the final copy and the start. The order is
 * the phase table's (src/migration/phases.ts). Every step that changes the machine registers its compensation first;
 * a failure after C (or after the units were staged), a failed acceptance or a rejection rolls back.
 */
export async function migrateVm(input: MigrateVmInput): Promise<MigrateVmResult> {
  const run = new MigrationRun(parseMigrateVmInput(input));
  try {
    return await migrate(run);
  } finally {
    await run.notificationsSettled();
  }
}

async function migrate(run: MigrationRun): Promise<MigrateVmResult> {
  const { params, status } = run;
  // runs started before the patch showed the scan twice: theirs replay so
  if (!patched(patches.scanEnteredOnce)) run.enter('scan');
  const order = phaseOrder(params.prestage);
  const [scan, ...beforeDecision] = order.filter((phase) => !phase.afterApproval);
  await run.runPhase(scan).catch((err: unknown) => {
    run.tellFailed(err);
    throw err;
  });
  if (params.dryRun) return await run.plan();

  let decision;
  try {
    for (const phase of beforeDecision) await run.runPhase(phase);
    status.outage = outageOf(status.results);
    decision = await run.awaitDecision();
  } catch (err) {
    throw await run.rollBackAfter(err);
  }
  if (!decision.approve) return await run.rollBackRejected(decision);

  const closedForGood = await run.awaitFleetGate();
  if (closedForGood) throw closedForGood;
  for (const phase of order.filter((phase) => phase.afterApproval)) {
    if ('activity' in phase) await run.runPhase(phase);
    else await run.commitSharedResources(decision.by);
  }
  return await run.complete();
}
