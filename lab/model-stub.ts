/**
 * The one stand-in behind the bots' agent turns: a small OpenAI-compatible model endpoint with canned answers. The
 * lab serves it to each guest on MODEL_PORT_IN_GUEST (bridged like the registry, see MODEL_HOST) from a unix
 * socket of that guest's, and records every request a guest sends to that guest's log (one JSON object a line:
 * `{"at","method","path","body"}`), so a test can see what a bot put in front of its model (its MEMORY.md, say).
 *
 *     GET  /v1/models              the one model, MODEL_ID
 *     POST /v1/chat/completions    a canned answer, or a call of the bot's `read` tool when the user asks to read a
 *                                  workspace file (fileToRead); as server-sent chunks when the request says `"stream": true`
 *     POST /v1/responses           404: the bots are configured with the chat-completions API
 *
 *     node model-stub.js --socket <path> --log <path> [--socket <path> --log <path> …]
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { z } from 'zod';
import { eachArg } from './shared/args';
import { closeServers, listen } from './shared/net';

export const MODEL_ID = 'lab-model';
/** Where a guest reaches the model endpoint (on every address of the guest; bridged to its socket on the host). */
export const MODEL_PORT_IN_GUEST = 8098;
/**
 * The name the bots' config gives it: the guest's /etc/hosts says the guest's LAN address (MACHINE_LAN_ADDRESS, the
 * direct install), the compose file's extra_hosts the Docker host's gateway address (the Docker-era container, whose
 * loopback is its own). Never a loopback address: OpenClaw 2026.9.6 trusts a configured provider's host name but
 * refuses it when it resolves to loopback, unless the name is `localhost` or a loopback IP itself (dist/ssrf-*.mjs,
 * assertAllowedTrustedHostnameResolvedAddressesOrThrow; the turn fails as "LLM request failed: network connection
 * error", the gateway's log says "Blocked: resolves to private/internal/special-use IP address"). A private address
 * passes. Its one way around it, `models.providers.<id>.request.allowPrivateNetwork`, is a key 2026.2.19's strict
 * config schema rejects, and both releases read the same state.
 */
export const MODEL_HOST = 'model.lab.internal';
export const MODEL_BASE_URL_IN_GUEST = `http://${MODEL_HOST}:${MODEL_PORT_IN_GUEST}/v1`;

/** One request as the log keeps it. */
export const ModelRequestSchema = z.object({
  at: z.string(),
  method: z.string(),
  path: z.string(),
  body: z.unknown(),
});
export type ModelRequest = z.infer<typeof ModelRequestSchema>;

/** The requests a model endpoint's log holds, oldest first (none when it has none yet). */
export function readModelLog(logPath: string): ModelRequest[] {
  if (!existsSync(logPath)) return [];
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => ModelRequestSchema.parse(JSON.parse(line)));
}

const ChatRequestSchema = z
  .object({
    model: z.string(),
    messages: z.array(z.object({ role: z.string() }).passthrough()),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().optional(),
    tools: z
      .array(z.object({ function: z.object({ name: z.string() }).passthrough().optional() }).passthrough())
      .optional(),
  })
  .passthrough();

/** The canned answer: says which turn of the endpoint it is and how many messages it was given. */
function answerFor(turn: number, messages: number): string {
  return `Lab model answer ${turn}: noted (${messages} messages read).`;
}

type ChatMessage = z.infer<typeof ChatRequestSchema>['messages'][number];
const textOf = (message: ChatMessage): string =>
  typeof message.content === 'string' ? message.content : JSON.stringify(message.content ?? '');

/**
 * As a model does when the user asks it to read a file of its workspace: a call of the bot's `read` tool on that file
 * (its path as the user wrote it, resolved by the bot against the agent's workspace). The tool's answer comes back
 * in the turn's next request, so a test sees there what the bot read. Only a user message ending the request asks for
 * it (the user's turn: the user messages after the model's last answer, as 2026.9.6 follows the user's text with a user
 * message of runtime context), only when the bot offers `read`: every other request gets the canned answer.
 */
function fileToRead(chat: z.infer<typeof ChatRequestSchema>): string | undefined {
  const offersRead = (chat.tools ?? []).some((tool) => tool.function?.name === 'read');
  const lastOther = chat.messages.map((message) => message.role).lastIndexOf('assistant');
  const usersTurn = chat.messages.slice(lastOther + 1).filter((message) => message.role === 'user');
  if (chat.messages.at(-1)?.role !== 'user' || !offersRead) return undefined;
  return usersTurn.map((message) => /\bread (?:your )?([\w./-]+\.md)\b/i.exec(textOf(message))?.[1]).find(Boolean);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function handler(logPath: string) {
  let turns = 0;
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = req.method === 'POST' ? await readBody(req) : '';
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // kept as the text it was
    }
    const entry: ModelRequest = { at: new Date().toISOString(), method: req.method ?? '', path, body };
    appendFileSync(logPath, JSON.stringify(entry) + '\n');

    if (req.method === 'GET' && path === '/v1/models') {
      return send(res, 200, { object: 'list', data: [{ id: MODEL_ID, object: 'model', owned_by: 'openclaw-lab' }] });
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return send(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } });
    }
    const chat = ChatRequestSchema.safeParse(body);
    if (!chat.success) {
      return send(res, 400, { error: { message: chat.error.message, type: 'invalid_request_error' } });
    }
    turns += 1;
    const content = answerFor(turns, chat.data.messages.length);
    const file = fileToRead(chat.data);
    const toolCall = file && {
      id: `call-lab-${turns}`,
      type: 'function',
      function: { name: 'read', arguments: JSON.stringify({ path: file }) },
    };
    const id = `chatcmpl-lab-${turns}`;
    const created = Math.floor(Date.now() / 1000);
    const usage = { prompt_tokens: 10, completion_tokens: 8, total_tokens: 18 };
    const finish = toolCall ? 'tool_calls' : 'stop';
    if (!chat.data.stream) {
      const message = toolCall
        ? { role: 'assistant', content: null, tool_calls: [toolCall] }
        : { role: 'assistant', content };
      return send(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: chat.data.model,
        choices: [{ index: 0, message, finish_reason: finish }],
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: chat.data.model, choices, ...extra })}\n\n`,
      );
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    if (toolCall) {
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, ...toolCall }] }, finish_reason: null }]);
    } else {
      for (const word of content.match(/\S+\s*/g) ?? []) {
        chunk([{ index: 0, delta: { content: word }, finish_reason: null }]);
      }
    }
    chunk([{ index: 0, delta: {}, finish_reason: finish }]);
    if (chat.data.stream_options?.include_usage) chunk([], { usage });
    res.end('data: [DONE]\n\n');
  };
}

export interface ModelStub {
  close(): Promise<void>;
}

/** Serves the endpoint on each unix socket, each recording to its own log. */
export async function startModelStub(endpoints: Array<{ socketPath: string; logPath: string }>): Promise<ModelStub> {
  const servers: Server[] = [];
  try {
    for (const { socketPath, logPath } of endpoints) {
      mkdirSync(dirname(socketPath), { recursive: true });
      mkdirSync(dirname(logPath), { recursive: true });
      if (existsSync(socketPath) && statSync(socketPath).isSocket()) rmSync(socketPath);
      const handle = handler(logPath);
      const server = createServer((req, res) => {
        handle(req, res).catch((err: Error) => send(res, 500, { error: { message: err.message } }));
      });
      servers.push(server);
      await listen(server, { path: socketPath });
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    close: async () => {
      await closeServers(servers);
      for (const { socketPath } of endpoints) rmSync(socketPath, { force: true });
    },
  };
}

export function parseArgs(argv: string[]): Array<{ socketPath: string; logPath: string }> {
  const sockets: string[] = [];
  const logs: string[] = [];
  eachArg(argv, (a, value) => {
    if (a === '--socket') sockets.push(value());
    else if (a === '--log') logs.push(value());
    else throw new Error(`unknown argument '${a}'`);
  });
  if (sockets.length === 0 || sockets.length !== logs.length)
    throw new Error('give one --log for each --socket, at least one of each');
  return sockets.map((socketPath, i) => ({ socketPath, logPath: logs[i] }));
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let stub: ModelStub;
  try {
    stub = await startModelStub(parseArgs(argv));
  } catch (err) {
    process.stderr.write(`model-stub: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`model-stub: listening\n`);
  const stop = () => void stub.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  void main();
}
