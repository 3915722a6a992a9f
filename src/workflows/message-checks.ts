import { log } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeIssues, printable } from '../schema';

const problems = (error: z.ZodError) => describeIssues(error, '(payload)').map(printable).join('; ');

/**
 * A signal handler that takes only a payload its schema accepts: anything else is logged and ignored, so no
 * message can make the workflow task throw.
 */
export function takeValid<S extends z.ZodType>(schema: S, signal: string, handle: (payload: z.output<S>) => void) {
  return (payload?: unknown): void => {
    const parsed = schema.safeParse(payload);
    if (parsed.success) handle(parsed.data);
    else log.warn(`ignored a malformed '${signal}' signal`, { problems: problems(parsed.error) });
  };
}

/** Parses an update's payload in its validator: a refused update never enters the history; the caller gets why. */
export function parsePayload<S extends z.ZodType>(schema: S, update: string, payload: unknown): z.output<S> {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new Error(`'${update}' refused: ${problems(parsed.error)}`);
  return parsed.data;
}
