import * as net from 'node:net';

/** Options of a systemctl command line, as parsed by the front end and sent to the daemon. */
export interface CtlOptions {
  now: boolean;
  noBlock: boolean;
  quiet: boolean;
  all: boolean;
  full: boolean;
  force: boolean;
  noLegend: boolean;
  noReload: boolean;
  value: boolean;
  plain: boolean;
  failed: boolean;
  types: string[];
  states: string[];
  properties: string[];
  lines: number;
  signal: string;
  killWhom: string;
}

export const defaultOptions = (): CtlOptions => ({
  now: false,
  noBlock: false,
  quiet: false,
  all: false,
  full: false,
  force: false,
  noLegend: false,
  noReload: false,
  value: false,
  plain: false,
  failed: false,
  types: [],
  states: [],
  properties: [],
  lines: 10,
  signal: 'SIGTERM',
  killWhom: 'all',
});

export interface CtlRequest {
  verb: string;
  args: string[];
  opts: CtlOptions;
  uid: number;
}

export interface CtlResponse {
  out: string[];
  err: string[];
  code: number;
}

/** Sends one request; resolves undefined when no daemon listens (not "booted"). */
export function callDaemon(socketPath: string, req: CtlRequest): Promise<CtlResponse | undefined> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = '';
    let connected = false;
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(JSON.stringify(req) + '\n');
    });
    sock.on('data', (d: string) => {
      buf += d;
    });
    sock.on('end', () => {
      try {
        resolve(JSON.parse(buf) as CtlResponse);
      } catch {
        reject(new Error('Connection reset by peer'));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && ['ENOENT', 'ECONNREFUSED', 'ENOTSOCK'].includes(err.code ?? '')) resolve(undefined);
      else reject(err);
    });
  });
}
