import { serveWorker } from '../../src/worker';
import { standInActivities } from './stand-in-activities';

/**
 * The project's worker as `npm run worker` runs it (environment configuration, metrics, graceful stop), with
 * stand-in phases of STAND_IN_PHASE_MS each, and the VMs in STAND_IN_FAIL_ACCEPTANCE (comma-separated) failing
 * their acceptance checks. Its workflows are the project's, from the bundle the jest global setup built
 * (OPENCLAW_WORKFLOW_BUNDLE, which the tests' worker processes inherit).
 */
const failAcceptance = (process.env.STAND_IN_FAIL_ACCEPTANCE ?? '').split(',').filter(Boolean).map(Number);
serveWorker(standInActivities({ phaseMs: Number(process.env.STAND_IN_PHASE_MS ?? 50), failAcceptance })).catch(
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
