/**
 * Small network helpers of the lab's programs, shared by the lab itself (lab/lab.ts), its release server
 * (lab/release-server.ts) and the tests.
 */
import { connect, createServer, type Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';

/** A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Whether something accepts a connection: a TCP port on 127.0.0.1, or a unix socket given by its path. */
export function connects(target: number | string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = typeof target === 'number' ? connect(target, '127.0.0.1') : connect(target);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Starts a server listening on a TCP address or a unix socket path; rejects with the listen error (EADDRINUSE, …). */
export function listen(server: Server, target: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

/** Closes HTTP servers, their open (keep-alive) connections too, and resolves once they are closed. */
export async function closeServers(servers: HttpServer[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
}
