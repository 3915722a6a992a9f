/**
 * The workflow code a worker runs: in development (`npm run worker`) Temporal bundles src/workflows at every worker
 * start (`workflowsPath`); in production (NODE_ENV=production: the systemd unit, `NODE_ENV=production npm run worker`)
 * the worker loads the bundle `npm run build` wrote once (`workflowBundle`), as Temporal advises for production.
 * `npm test` builds that bundle once (its global setup, ensureWorkflowBundle: again only when a source changed) and
 * points every test worker, in the test process or a child process, at it with OPENCLAW_WORKFLOW_BUNDLE.
 * The replay test replays the recorded histories against that same bundle.
 *
 * Run as a script (compiled, the last step of `npm run build`) it writes the bundle.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';

const ROOT = resolve(__dirname, '..');
/** lib/ from src/ (tsx, jest) and from lib/ (the compiled worker) alike */
export const WORKFLOW_BUNDLE_PATH = join(ROOT, 'lib', 'workflow-bundle.js');
/** beside the bundle: the hash of the sources it was built from */
const INPUTS_PATH = `${WORKFLOW_BUNDLE_PATH}.inputs`;

/** Workflows and their interceptors (outcome metrics), the same for a bundle built now and one built at start. */
const sources = {
  workflowsPath: require.resolve('./workflows'),
  workflowInterceptorModules: [require.resolve('./workflow-metrics')],
};

export type WorkflowCode = Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle' | 'interceptors'>;

/** Set to a bundle's path, a development worker loads it instead of bundling the sources (the tests' workers). */
export const WORKFLOW_BUNDLE_ENV = 'OPENCLAW_WORKFLOW_BUNDLE';

/**
 * The workflow options of Worker.create: the pre-built bundle in production, the bundle OPENCLAW_WORKFLOW_BUNDLE
 * names when set, the sources otherwise.
 */
export function workflowCode(
  production = process.env.NODE_ENV === 'production',
  prebuilt = process.env[WORKFLOW_BUNDLE_ENV],
): WorkflowCode {
  if (!production) {
    if (prebuilt) return { workflowBundle: { codePath: prebuilt } };
    return {
      workflowsPath: sources.workflowsPath,
      interceptors: { workflowModules: sources.workflowInterceptorModules },
    };
  }
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) {
    throw new Error(`NODE_ENV=production needs the workflow bundle ${WORKFLOW_BUNDLE_PATH}: run \`npm run build\``);
  }
  return { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } };
}

/**
 * What the bundle depends on: every source file (the workflows import the shared messages, schemas and failure
 * types; more than they need is only an extra rebuild) and the locked dependency versions (the SDK's own code is in
 * the bundle, and must be the version of the worker that loads it).
 */
function inputsHash(): string {
  const hash = createHash('sha256');
  const add = (path: string) => hash.update(`${relative(ROOT, path)}\0`).update(readFileSync(path));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else add(path);
    }
  };
  walk(join(ROOT, 'src'));
  add(join(ROOT, 'package-lock.json'));
  return hash.digest('hex');
}

/** Bundles the workflow code into WORKFLOW_BUNDLE_PATH (written whole or not at all). */
export async function writeWorkflowBundle(): Promise<void> {
  const inputs = inputsHash();
  const { code } = await bundleWorkflowCode(sources);
  mkdirSync(dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  const part = `${WORKFLOW_BUNDLE_PATH}.${process.pid}.part`;
  writeFileSync(part, code);
  renameSync(part, WORKFLOW_BUNDLE_PATH);
  writeFileSync(INPUTS_PATH, `${inputs}\n`);
}

/** The bundle, built again unless it was built from today's sources (the replay test's setup). */
export async function ensureWorkflowBundle(): Promise<string> {
  const built = existsSync(INPUTS_PATH) && readFileSync(INPUTS_PATH, 'utf8').trim();
  if (built !== inputsHash() || !existsSync(WORKFLOW_BUNDLE_PATH)) await writeWorkflowBundle();
  return WORKFLOW_BUNDLE_PATH;
}

if (require.main === module) {
  writeWorkflowBundle().then(
    () => console.log(`workflow bundle written to ${relative(process.cwd(), WORKFLOW_BUNDLE_PATH)}`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
