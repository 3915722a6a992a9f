import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ensureWorkflowBundle, WORKFLOW_BUNDLE_ENV } from '../../src/workflow-code';

/**
 * Once per `npm test`: finds (or builds, once per machine) the Temporal CLI whose dev server the integration tests
 * start, and bundles the workflow code of today's sources (again only when a source changed since the last
 * bundle), which every test worker then loads instead of bundling at its start (about 5 CPU seconds each).
 * Both reach the test files and the worker processes they start through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const script = resolve(__dirname, '../../scripts/temporal-cli.sh');
  process.env.TEMPORAL_CLI = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  process.env[WORKFLOW_BUNDLE_ENV] = await ensureWorkflowBundle();
}
