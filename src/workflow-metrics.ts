/**
 * Workflow interceptors (they run in the workflow sandbox, so deterministic and importing only
 * @temporalio/workflow): count each migrateVm run by how it ended. The SDK's workflow meter emits nothing while a
 * history is replayed, so a run is counted once, by the worker that ends it.
 */
import type { FailureType } from './failures';
import { ApplicationFailure, metricMeter, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** migrateVm's own failure types, as the outcome a dashboard shows; anything else is `failed`. */
const FAILURE_OUTCOMES: Partial<Record<FailureType, string>> = {
  MigrationRolledBack: 'rolled-back',
  RollbackIncomplete: 'failed',
};

function outcomeOfFailure(err: unknown): string {
  return (err instanceof ApplicationFailure && FAILURE_OUTCOMES[err.type as FailureType]) || 'failed';
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        if (workflowInfo().workflowType !== 'migrateVm') return next(input);
        const migrations = metricMeter.createCounter(
          'openclaw_migrate_migrations_total',
          'runs',
          'migrateVm runs ended, by outcome: completed, rejected, planned, rolled-back, failed',
        );
        try {
          const result = await next(input);
          migrations.add(1, { outcome: (result as { outcome: string }).outcome });
          return result;
        } catch (err) {
          migrations.add(1, { outcome: outcomeOfFailure(err) });
          throw err;
        }
      },
    },
  ],
});
