import { get } from 'node:http';

export interface HttpAnswer {
  status: number;
  body: string;
}

/** GET http://127.0.0.1:<port><path>: the status and the body; rejects on a connection error or timeoutMs of silence. */
export function httpGet(port: number, path = '/', timeoutMs = 5000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}
