/**
 * The client side of the QEMU guest agent's wire protocol (the QMP dialect qemu-ga speaks), as the lab's `qm`
 * (lab/node/qm.ts) speaks it to the real qemu-ga, and its tests' fake agents read it.
 *
 * Framing as qemu-ga does it: the stream is a sequence of JSON objects (qemu-ga's parser is a streaming
 * one, so newlines are not required between requests; every response is one line ending in "\n").
 * A 0xFF byte from a client resets qemu-ga's parser (it answers a parse error); `guest-sync-delimited` makes
 * the agent put a 0xFF byte in front of its response, which is how Proxmox's PVE::QMPClient finds the start of an
 * answer.
 */
import { connect } from 'node:net';
import { z } from 'zod';

/** The sentinel byte of guest-sync-delimited (and the client's parser reset). */
export const QGA_SENTINEL = 0xff;

export interface QgaError {
  class: string;
  desc: string;
}

export interface QgaRequest {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

export type QgaResponse = { return: unknown; id?: unknown } | { error: QgaError; id?: unknown };

const errorSchema = z.object({ class: z.string(), desc: z.string() });
export const qgaResponseSchema = z.union([
  z.object({ return: z.unknown(), id: z.unknown().optional() }).refine((r) => 'return' in r),
  z.object({ error: errorSchema, id: z.unknown().optional() }),
]);

export function isQgaError(r: QgaResponse): r is { error: QgaError } {
  return 'error' in r;
}

/**
 * Splits a byte stream into top-level JSON texts the way qemu-ga's streaming lexer does: it tracks
 * brace/bracket depth outside strings, and a 0xFF byte throws away whatever was partially read.
 * Bytes outside any object (whitespace, stray tokens) between texts are returned as they come, so the
 * caller can report a parse error for them.
 */
export class JsonStreamSplitter {
  private buf: number[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** Feeds bytes; returns the complete JSON texts (as UTF-8 strings) they finished. */
  push(chunk: Buffer): string[] {
    const out: string[] = [];
    for (const byte of chunk) {
      if (byte === QGA_SENTINEL) {
        this.reset();
        continue;
      }
      if (this.depth === 0 && !this.inString) {
        if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
        this.buf.push(byte);
        if (byte === 0x7b || byte === 0x5b) {
          this.depth = 1;
        } else {
          // a token outside any object/array: a JSON text of its own (qemu-ga answers it with an error)
          if (byte === 0x22) {
            this.inString = true;
            continue;
          }
          out.push(this.take());
        }
        continue;
      }
      this.buf.push(byte);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === 0x5c) this.escaped = true;
        else if (byte === 0x22) {
          this.inString = false;
          if (this.depth === 0) out.push(this.take());
        }
        continue;
      }
      if (byte === 0x22) this.inString = true;
      else if (byte === 0x7b || byte === 0x5b) this.depth++;
      else if (byte === 0x7d || byte === 0x5d) {
        this.depth--;
        if (this.depth === 0) out.push(this.take());
      }
    }
    return out;
  }

  private take(): string {
    const text = Buffer.from(this.buf).toString('utf8');
    this.buf = [];
    return text;
  }

  reset(): void {
    this.buf = [];
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }
}

/** Why a request to the agent failed without an answer; `message` is PVE::QMPClient's wording. */
export class QgaTransportError extends Error {}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ECONNREFUSED: 'Connection refused',
  EACCES: 'Permission denied',
  ENOTSOCK: 'Socket operation on non-socket',
  EPERM: 'Operation not permitted',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  ENOTDIR: 'Not a directory',
  ETIMEDOUT: 'Connection timed out',
  EAGAIN: 'Resource temporarily unavailable',
};

/** strerror(3) for the errno names Node reports. */
export function strerror(code: string | undefined): string {
  return (code && ERRNO_TEXT[code]) || code || 'Unknown error';
}

let syncSeq = 0;

/**
 * Sends one command the way PVE::QMPClient does for a qga socket: a fresh connection, then
 * `guest-sync-delimited` with a unique id followed by the command; waits for the 0xFF sentinel, the
 * echoed id, then the command's response. Resolves with the response ({return} or {error}); rejects
 * with a QgaTransportError whose message is QMPClient's ("got timeout", "client closed connection",
 * "unable to connect to VM <vmid> qga socket - <strerror>").
 */
export function qgaRequest(
  socketPath: string,
  execute: string,
  args: Record<string, unknown> | undefined,
  opts: { timeoutMs: number; vmid?: string | number },
): Promise<QgaResponse> {
  // QMPClient's qga ids: "$$" . "0" . $seq
  const syncId = Number(`${process.pid}0${++syncSeq}`);
  return new Promise((resolve, reject) => {
    let settled = false;
    let stage: 'sync' | 'answer' = 'sync';
    let seenSentinel = false;
    let connected = false;
    const splitter = new JsonStreamSplitter();
    const sock = connect(socketPath);
    const timer = setTimeout(() => finish(new QgaTransportError('got timeout')), Math.max(1, opts.timeoutMs));

    function finish(result: QgaResponse | Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    }

    sock.on('connect', () => {
      connected = true;
      const request: QgaRequest = { execute, arguments: args ?? {} };
      sock.write(
        JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id: syncId } }) +
          '\n' +
          JSON.stringify(request) +
          '\n',
      );
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) {
        const who = opts.vmid !== undefined ? `VM ${opts.vmid}` : 'VM';
        finish(new QgaTransportError(`unable to connect to ${who} qga socket - ${strerror(err.code)}`));
      } else {
        finish(new QgaTransportError('client closed connection'));
      }
    });
    sock.on('close', () => finish(new QgaTransportError('client closed connection')));
    sock.on('data', (chunk: Buffer) => {
      // like QMPClient: ignore everything before the sentinel
      if (!seenSentinel) {
        const at = chunk.indexOf(QGA_SENTINEL);
        if (at < 0) return;
        seenSentinel = true;
        chunk = chunk.subarray(at + 1);
      }
      for (const text of splitter.push(chunk)) {
        let obj: unknown;
        try {
          obj = JSON.parse(text);
        } catch (err) {
          finish(new QgaTransportError(`${(err as Error).message}\n`));
          return;
        }
        if (stage === 'sync') {
          // QMPClient's mux_input: an older id is an earlier client's stale answer (skipped), a newer one is fatal
          const echoed = (obj as { return?: unknown }).return;
          if (!echoed) {
            finish(new QgaTransportError('received response without command id\n'));
            return;
          }
          if (Number(echoed) < syncId) continue;
          if (Number(echoed) !== syncId) {
            finish(new QgaTransportError(`got wrong command id '${String(echoed)}' (expected ${syncId})\n`));
            return;
          }
          stage = 'answer';
          continue;
        }
        const parsed = qgaResponseSchema.safeParse(obj);
        if (!parsed.success) {
          finish(new QgaTransportError('received response without return or error'));
          return;
        }
        finish(parsed.data as QgaResponse);
        return;
      }
    });
  });
}
