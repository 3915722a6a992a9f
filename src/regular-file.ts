import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** A file that could not be opened (it is not there, or not for this user), as opposed to one that is not fit. */
export class FileNotOpened extends Error {}

/**
 * A file the CLI or the worker reads (inventory, Temporal profile, certificates, keys): opened without blocking and
 * checked on the open descriptor to be a regular file of 1 to `maxBytes` bytes, so a FIFO, a device or a directory
 * named by mistake is refused at once, never waited on or read without end.
 */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new FileNotOpened(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    if (info.size === 0 || info.size > maxBytes)
      throw new Error(`${path} has ${info.size} bytes (1 to ${maxBytes} expected)`);
    const data = Buffer.alloc(info.size);
    let read = 0;
    while (read < data.length) {
      const n = readSync(fd, data, read, data.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return data.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
