import type { MigrateFleetInput } from '../src/fleet/input';
import type { PhaseName } from '../src/migration/phases';
import { inCutoverAtOnce, inFlightAtOnce, runSpans, standInInventory } from '../test/support/fleet';
import { standInActivities } from '../test/support/stand-in-activities';
import { runWorker } from '../test/support/temporal';
import { devServer, runFleet } from './fleet';

/**
 * A real VM's phases, in seconds, as the issue (23) and the lab's `outage` bench state them: the install downloads
 * ~650 MB (3 min), the panel's `npm install` 40 s, the cutover is about the gateway's start (~20 s measured on the
 * lab, `outage`); the rest are a few seconds to half a minute each. Every other step (the ledger's commit, the
 * record, a compensation) takes OTHER_S.
 */
export const REAL_VM_S: Record<Exclude<PhaseName, 'shared-resources'>, number> = {
  scan: 10,
  backup: 30,
  'stop-docker': 5,
  install: 180,
  'pre-copy': 20,
  'migrate-data': 20,
  'deploy-panel': 40,
  'stage-units': 5,
  'systemd-units': 20,
  acceptance: 5,
  'remove-docker': 10,
};
const OTHER_S = 2;

/**
 * The fleet pipeline (issue 23): 200 VMs at concurrency 3 with stand-in phases of a real VM's durations, scaled down
 * by `scale` (a second becomes 1000/scale ms): the SOP's order, pre-staged, and pre-staged with `prestageAhead` 9.
 * The real dev server, workflows (fleet, migrateVm, the lock) and worker; approved as each VM arrives. Prints each
 * one's makespan, its ratio to the SOP order's, and (from the children's histories) the most VMs between C and
 * their end at once, which must never exceed the concurrency. The three run at once, or with `oneAtATime` each
 * alone (three times as long, none slowed by the others).
 */
export async function benchFleetPipeline(vms: number, scale: number, oneAtATime: boolean): Promise<void> {
  const concurrency = 3;
  const ms = (seconds: number) => Math.round((seconds * 1000) / scale);
  const phaseMsOf = Object.fromEntries(Object.entries(REAL_VM_S).map(([phase, s]) => [phase, ms(s)]));
  const env = await devServer();
  const { taskQueue, stop } = await runWorker(env, standInActivities({ phaseMs: ms(OTHER_S), phaseMsOf }));
  console.log(
    `fleet-pipeline: ${vms} VMs, concurrency ${concurrency}, canary 1, one fleet run (childrenPerRun ${vms}); ` +
      `a real VM's phases (s) ${JSON.stringify(REAL_VM_S)}, other steps ${OTHER_S} s, each scaled by 1/${scale}`,
  );
  const variants: [string, Partial<MigrateFleetInput>][] = [
    ['SOP order', {}],
    ['pre-staged', { vmOverrides: { prestage: true } }],
    ['pre-staged, prestageAhead 9', { vmOverrides: { prestage: true }, prestageAhead: 9 }],
  ];
  try {
    const run = async ([label, options]: (typeof variants)[number], index: number) => {
      const inventory = standInInventory(vms);
      inventory.vms.forEach((vm, i) => (vm.vmid = 10_000 * (index + 1) + i));
      // a node of its own: the node's lock (one ledger commit at a time) is not shared between the three fleets
      for (const node of Object.values(inventory.nodes)) node.hostKeySha256 = `SHA256:${'ABC'[index].repeat(42)}A`;
      const { report, wallMs } = await runFleet(
        env,
        taskQueue,
        {
          inventory,
          concurrency,
          canary: 1,
          childrenPerRun: vms,
          ...options,
        },
        { fromVisibility: true },
      );
      console.log(`  ${label}: done in ${(wallMs / 1000).toFixed(1)} s`);
      return { label, report, wallMs, spans: await runSpans(env.client, report) };
    };
    const runs = [];
    if (oneAtATime) for (const [index, variant] of variants.entries()) runs.push(await run(variant, index));
    else runs.push(...(await Promise.all(variants.map(run))));
    const sopMs = runs[0].wallMs;
    for (const { label, report, wallMs, spans } of runs)
      console.log(
        `  ${label}: makespan ${(wallMs / 1000).toFixed(1)} s (${((wallMs * scale) / 3_600_000).toFixed(2)} h unscaled), ` +
          `${(wallMs / sopMs).toFixed(2)} × the SOP order's; most VMs between C and their end at once ` +
          `${inCutoverAtOnce(spans)} (concurrency ${concurrency}), most in flight ${inFlightAtOnce(spans)}; ` +
          `outcomes ${JSON.stringify(report.counts)}`,
      );
  } finally {
    await stop();
    await env.teardown();
  }
}
