/**
 * A Docker-era OpenClaw container, as seen from the guest: what answers on its published ports while the
 * container is Up. The lab's `docker` starts one of these per running container (detached, own session, output
 * to the container's log file) and kills it when the container stops.
 *
 *     node container.js --name openclaw-gateway --role gateway --listen 127.0.0.1:28789 [--listen …]
 *
 * - role gateway: `GET /` → 200 HTML (the control UI's shell), `GET /health` → `{"ok":true,"status":"live"}`.
 * - role panel: `GET /` → 200 HTML.
 * - Anything else → 404 JSON. HEAD works like GET without a body.
 * - The process calls itself `docker-proxy`, so `ss -lntp` shows what it shows on a real Docker host
 *   (the userland proxy owns the published host port).
 * - A port that is already taken → message on stderr, exit 98 (EADDRINUSE), so `docker start` can report it.
 * - SIGTERM/SIGINT → close the listeners, exit 0 (the container shows `Exited (0)`).
 * - With LAB_READY_FD set, writes `ready` to that fd once every port listens, then closes it.
 */
import { closeSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { eachArg } from '../shared/args';
import { listen } from '../shared/net';

export type ContainerRole = 'gateway' | 'panel';

export interface ContainerServerOptions {
  name: string;
  role: ContainerRole;
  listen: Array<{ host: string; port: number }>;
}

const GATEWAY_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>OpenClaw Control</title>
  </head>
  <body>
    <openclaw-app></openclaw-app>
  </body>
</html>
`;

const PANEL_HTML = `<!doctype html>
<html lang="zh-CN">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>OpenClaw 可视化面板</title>
  </head>
  <body>
    <div id="app">OpenClaw Panel (docker)</div>
  </body>
</html>
`;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function handle(role: ContainerRole, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'application/json; charset=utf-8', '{"error":"method not allowed"}');
    return;
  }
  if (path === '/') {
    send(res, 200, 'text/html; charset=utf-8', role === 'gateway' ? GATEWAY_HTML : PANEL_HTML);
  } else if (role === 'gateway' && (path === '/health' || path === '/healthz')) {
    send(res, 200, 'application/json; charset=utf-8', '{"ok":true,"status":"live"}');
  } else {
    send(res, 404, 'application/json; charset=utf-8', '{"error":"not found"}');
  }
}

/** Listens on every address; rejects (closing what did open) if one of them fails. */
export async function startContainerServer(opts: ContainerServerOptions): Promise<Server[]> {
  const servers: Server[] = [];
  try {
    for (const { host, port } of opts.listen) {
      const server = createServer((req, res) => handle(opts.role, req, res));
      servers.push(server);
      await listen(server, { port, host });
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return servers;
}

export function parseArgs(argv: string[]): ContainerServerOptions {
  let name = '';
  let role: ContainerRole | undefined;
  const addresses: ContainerServerOptions['listen'] = [];
  eachArg(argv, (a, value) => {
    if (a === '--name') name = value();
    else if (a === '--role') {
      const r = value();
      if (r !== 'gateway' && r !== 'panel') throw new Error(`unknown role '${r}'`);
      role = r;
    } else if (a === '--listen') {
      const v = value();
      const m = /^(.*):(\d+)$/.exec(v);
      if (!m) throw new Error(`--listen wants host:port, got '${v}'`);
      addresses.push({ host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) });
    } else throw new Error(`unknown argument '${a}'`);
  });
  if (!name || !role) throw new Error('--name and --role are required');
  return { name, role, listen: addresses };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let opts: ContainerServerOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`container: ${(err as Error).message}\n`);
    process.exit(2);
  }
  process.title = 'docker-proxy';
  let servers: Server[] = [];
  const stop = () => {
    for (const s of servers) s.close();
    process.stdout.write(`${new Date().toISOString()} ${opts.name}: stopping\n`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => undefined);
  try {
    servers = await startContainerServer(opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`${new Date().toISOString()} ${opts.name}: ${e.message}\n`);
    process.exit(e.code === 'EADDRINUSE' ? 98 : 1);
  }
  const where = opts.listen.map((l) => `${l.host}:${l.port}`).join(', ');
  process.stdout.write(`${new Date().toISOString()} ${opts.name}: ${opts.role} listening on ${where}\n`);
  // `docker` waits for this line on the pipe it passed as LAB_READY_FD, then lets go of the pipe.
  const readyFd = Number(process.env.LAB_READY_FD);
  if (Number.isInteger(readyFd) && readyFd > 2) {
    try {
      writeSync(readyFd, 'ready\n');
      closeSync(readyFd);
    } catch {
      // nobody is waiting
    }
  }
}

if (require.main === module) {
  void main();
}
