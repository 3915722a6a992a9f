import { Context } from '@temporalio/activity';
import { webhookConfig } from '../config';
import { failure } from '../failures';
import { withholdCredentials } from './guest-command';
import { notificationCounter } from '../metrics';
import type { Webhook } from '../notify/config';
import { NotifyEventSchema, type NotifyEvent } from '../notify/events';
import { refusalOf, requestFor } from '../notify/formats';

export interface NotifyResult {
  /** the webhooks that took the event (by name); empty when none is configured for it */
  delivered: string[];
}

/**
 * The `notify` activity over the webhooks that `webhooks()` answers: posts the event to each webhook configured for
 * it, at once. A webhook that took it is heartbeated, so that a retry (after another webhook failed) posts only to
 * those that did not: each gets an event once. Fails with NotificationFailed, naming each webhook that did not take
 * it and why (never its URL), for Temporal to retry as the caller's policy bounds it.
 */
export function notifyWith(webhooks: () => Webhook[]) {
  return async function notify(input: NotifyEvent): Promise<NotifyResult> {
    const parsed = NotifyEventSchema.safeParse(input);
    if (!parsed.success) throw failure('InvalidInput', `notify: ${parsed.error.issues[0]?.message}`);
    const event = parsed.data;
    let targets: Webhook[];
    try {
      targets = webhooks().filter((hook) => !hook.events || hook.events.includes(event.kind));
    } catch (err) {
      throw failure('InvalidInput', err instanceof Error ? err.message : String(err));
    }
    const ctx = Context.current();
    const before = ctx.info.heartbeatDetails as { delivered?: unknown } | undefined;
    const delivered = new Set(Array.isArray(before?.delivered) ? before.delivered.map(String) : []);
    const attempts = notificationCounter(ctx.metricMeter);
    const failures: string[] = [];
    await Promise.all(
      targets
        .filter((hook) => !delivered.has(hook.name))
        .map(async (hook) => {
          const refusal = await deliver(hook, event, ctx.cancellationSignal);
          attempts.add(1, { webhook: hook.name, event: event.kind, outcome: refusal ? 'failed' : 'delivered' });
          if (refusal) return void failures.push(`webhook '${hook.name}' (${hook.format}): ${refusal}`);
          delivered.add(hook.name);
          ctx.heartbeat({ delivered: [...delivered] });
        }),
    );
    if (failures.length) throw failure('NotificationFailed', `${event.kind} not delivered: ${failures.join('; ')}`);
    return { delivered: targets.map((hook) => hook.name) };
  };
}

/** Posts one event to one webhook; answers why it was not taken, or undefined. */
async function deliver(hook: Webhook, event: NotifyEvent, cancelled: AbortSignal): Promise<string | undefined> {
  const { url, body } = requestFor(hook, event, new Date());
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
      // a redirect is no webhook's answer: not followed
      redirect: 'error',
      signal: AbortSignal.any([AbortSignal.timeout(hook.timeoutMs), cancelled]),
    });
    const refusal = refusalOf(hook.format, response.status, await response.text());
    return refusal && withholdWebhook(hook, refusal);
  } catch (err) {
    // fetch's own errors name the address at most (ECONNREFUSED 127.0.0.1:80), never the path or query. Read by
    // their shape: they come from Node's realm, which is not always the caller's (instanceof Error fails in jest).
    const { name, cause } = (err ?? {}) as { name?: unknown; cause?: { code?: unknown } };
    if (name === 'TimeoutError') return `no answer within ${hook.timeoutMs} ms`;
    return String(cause?.code ?? name ?? 'failed');
  }
}

/**
 * A service's answer with the webhook's own credentials withheld, should it echo them (its URL's path segments and
 * query values, the signing secret), then whatever else has a credential's shape.
 */
function withholdWebhook(hook: Webhook, answer: string): string {
  const url = new URL(hook.url);
  const parts = [...url.pathname.split('/'), ...url.searchParams.values(), hook.secret ?? '']
    .filter((p) => p.length >= 8)
    // the longest first: a value that holds another is withheld whole
    .sort((a, b) => b.length - a.length);
  return withholdCredentials(parts.reduce((kept, part) => kept.split(part).join('[withheld]'), answer));
}

let configured: Webhook[] | undefined;
/** The worker's webhooks (OPENCLAW_WEBHOOKS_FILE or OPENCLAW_WEBHOOKS), read once. */
export const notify = notifyWith(() => (configured ??= webhookConfig()));
