import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { prepareGuestImage } from '../../lab/guest-image';
import { prepareRegistry } from '../../lab/registry';
import { ensureWorkflowBundle, WORKFLOW_BUNDLE_ENV } from '../../src/workflow-code';

/**
 * Once per `npm test`: finds (or builds, once per machine) the Temporal CLI whose dev server the integration tests
 * start, and bundles the workflow code of today's sources (again only when a source changed since the last
 * bundle), which every test worker then loads instead of bundling at its start (about 5 CPU seconds each).
 * Both reach the test files and the worker processes they start through the environment.
 *
 * The whole suite (no files named) also prepares the lab's caches here (the OpenClaw cache, the npm registry, the
 * guest image; each only when missing for today's inputs, ~10 min on a new machine): its files run two at a time,
 * and one building them inside its lab boot would hold the other's boot waiting past its bound. A run of chosen
 * files builds what its first lab needs itself.
 */
export default async function globalSetup(globalConfig: { testPathPattern?: string }): Promise<void> {
  const script = resolve(__dirname, '../../scripts/temporal-cli.sh');
  process.env.TEMPORAL_CLI = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  process.env[WORKFLOW_BUNDLE_ENV] = await ensureWorkflowBundle();
  if (!globalConfig.testPathPattern) {
    // each prepares the OpenClaw cache it is made from first
    await prepareRegistry();
    await prepareGuestImage();
  }
}
