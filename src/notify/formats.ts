import { createHmac } from 'node:crypto';
import type { Webhook } from './config';
import { messageOf, type NotifyEvent } from './events';

/**
 * Each format's request and how its service says it took the message. The shapes are the services' incoming-webhook
 * (custom bot) messages:
 * - feishu: `{"msg_type":"text","content":{"text":…}}`; signed: `timestamp` (seconds) and `sign` =
 *   base64(HMAC-SHA256 keyed by "timestamp\nsecret", of nothing) in the body; answers `{"code":0,…}` (a refusal is
 *   a code other than 0, often with HTTP 200).
 * - dingtalk: `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`; signed: `&timestamp=<ms>&sign=` the
 *   URL-encoded base64(HMAC-SHA256 keyed by the secret, of "timestamp\nsecret") on the URL; answers `{"errcode":0}`.
 * - wecom: `{"msgtype":"markdown","markdown":{"content":…}}` (at most 4096 bytes); answers `{"errcode":0}`.
 * - slack: `{"text":…,"blocks":[header, section mrkdwn]}` (`text` the notification's fallback); answers `ok`.
 * - json: `{"event":kind,"title":…,"text":…,"details":event}`, for any receiver; any 2xx is taken.
 */
export interface WebhookRequest {
  url: string;
  body: string;
}

export function requestFor(webhook: Webhook, event: NotifyEvent, now: Date): WebhookRequest {
  const { title, lines } = messageOf(event);
  const text = [title, ...lines].join('\n');
  switch (webhook.format) {
    case 'json':
      return post(webhook.url, { event: event.kind, title, text, details: event });
    case 'feishu': {
      const timestamp = String(Math.floor(now.getTime() / 1000));
      const signed = webhook.secret && {
        timestamp,
        sign: createHmac('sha256', `${timestamp}\n${webhook.secret}`).update('').digest('base64'),
      };
      return post(webhook.url, { ...signed, msg_type: 'text', content: { text } });
    }
    case 'dingtalk': {
      const markdown = { title, text: [`#### ${title}`, ...lines.map((l) => `- ${l}`)].join('\n') };
      const body = { msgtype: 'markdown', markdown };
      if (!webhook.secret) return post(webhook.url, body);
      const timestamp = String(now.getTime());
      const sign = createHmac('sha256', webhook.secret).update(`${timestamp}\n${webhook.secret}`).digest('base64');
      const url = new URL(webhook.url);
      url.searchParams.set('timestamp', timestamp);
      url.searchParams.set('sign', sign);
      return post(url.href, body);
    }
    case 'wecom':
      return post(webhook.url, {
        msgtype: 'markdown',
        markdown: { content: cutToBytes([`**${title}**`, ...lines.map((l) => `> ${l}`)].join('\n'), 4096) },
      });
    case 'slack':
      return post(webhook.url, {
        text,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: slackEscape(lines.join('\n')).slice(0, 3000) } },
        ],
      });
  }
}

/**
 * Why the service did not take the message, from its answer, or undefined when it did. Only the answer's code and
 * message are quoted, cut: never the URL.
 */
export function refusalOf(format: Webhook['format'], status: number, answer: string): string | undefined {
  const said = answer.slice(0, 200).replace(/\s+/g, ' ');
  if (status < 200 || status > 299) return `HTTP ${status}${said ? `: ${said}` : ''}`;
  if (format === 'json') return undefined;
  if (format === 'slack') return answer.trim() === 'ok' ? undefined : `answered '${said}', not 'ok'`;
  let json: { code?: unknown; StatusCode?: unknown; errcode?: unknown; msg?: unknown; errmsg?: unknown };
  try {
    json = JSON.parse(answer);
  } catch {
    return `answered '${said}', not JSON`;
  }
  const code = format === 'feishu' ? (json.code ?? json.StatusCode) : json.errcode;
  return code === 0 ? undefined : `code ${String(code)}: ${String(json.msg ?? json.errmsg ?? '').slice(0, 200)}`;
}

const post = (url: string, body: unknown): WebhookRequest => ({ url, body: JSON.stringify(body) });

/** Slack's mrkdwn takes &, < and > as markup: escaped, so that a reason cannot make a link or a mention. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function cutToBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let cut = s.slice(0, max);
  while (Buffer.byteLength(cut) > max - 16) cut = cut.slice(0, -1);
  return `${cut}… [cut here]`;
}
