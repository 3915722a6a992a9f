import { z } from 'zod';

const TemporalEnvSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('openclaw-migrate'),
  TEMPORAL_UI_URL: z.string().url().default('http://127.0.0.1:8233'),
});

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  uiUrl: string;
}

/** Where the worker and the CLI find Temporal; every value can be overridden by environment. */
export function temporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const parsed = TemporalEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Bad Temporal settings in the environment:\n  ${problems.join('\n  ')}`);
  }
  const { TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL } = parsed.data;
  return {
    address: TEMPORAL_ADDRESS,
    namespace: TEMPORAL_NAMESPACE,
    taskQueue: TEMPORAL_TASK_QUEUE,
    uiUrl: TEMPORAL_UI_URL,
  };
}

/** The Temporal UI page of one workflow run. */
export function workflowUiLink(config: TemporalConfig, workflowId: string): string {
  return `${config.uiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
