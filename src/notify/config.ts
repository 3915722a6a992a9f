import { z } from 'zod';
import { notifyEventKinds } from './events';

/**
 * The webhooks the worker tells, each with its format (see src/notify/formats.ts). A webhook's URL and signing
 * secret are credentials: they live in the worker's environment or its file, never in a workflow's input or history,
 * and no message (a refusal, a failure) quotes them.
 */
export const webhookFormats = ['json', 'feishu', 'dingtalk', 'wecom', 'slack'] as const;
export type WebhookFormat = (typeof webhookFormats)[number];

/** An http(s) URL without userinfo or fragment, in the WHATWG canonical form that is what gets posted to. */
const webhookUrl = z
  .string()
  .max(2048)
  .transform((s, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(s);
    } catch {
      // the value is a secret: the message never quotes it
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.hash) {
      ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL without user:password@ or #fragment' });
      return z.NEVER;
    }
    return url.href;
  });

export const WEBHOOK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const WebhookSchema = z
  .strictObject({
    /** how messages, status and metrics name it (its URL is never shown) */
    name: z.string().regex(WEBHOOK_NAME, '1–64 letters, digits, . _ - (a letter or digit first)'),
    format: z.enum(webhookFormats),
    url: webhookUrl,
    /** Feishu's or DingTalk's signing secret ("signature verification" / 加签), when the bot has one */
    secret: z.string().min(1).max(512).optional(),
    /** the events it gets; absent: all */
    events: z.array(z.enum(notifyEventKinds)).min(1).optional(),
    /** how long one request may take before it counts as failed */
    timeoutMs: z.number().int().min(100).max(30_000).default(10_000),
  })
  .refine((w) => w.secret === undefined || w.format === 'feishu' || w.format === 'dingtalk', {
    message: 'only feishu and dingtalk webhooks sign with a secret',
    path: ['secret'],
  });
export type Webhook = z.output<typeof WebhookSchema>;

export const WebhooksSchema = z
  .array(WebhookSchema)
  .max(20)
  .superRefine((hooks, ctx) => {
    const seen = new Set<string>();
    hooks.forEach((hook, i) => {
      if (seen.has(hook.name))
        ctx.addIssue({ code: 'custom', message: `name '${hook.name}' is given twice`, path: [i, 'name'] });
      seen.add(hook.name);
    });
  });
