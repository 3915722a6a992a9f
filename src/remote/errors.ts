import { failureTypes, type RemoteFailureType } from '../failures';

/**
 * The remote layer's errors. Each class sets `name` to its own name, which Temporal takes as the failure's type;
 * whether another attempt may help (`retryable`) is the registry's word (src/failures.ts), which migrateVm's retry
 * policies read too.
 */

/** Sets the class's `name` on its prototype, so the stack trace's first line names it too. */
function nameErrorClass(cls: { prototype: Error }, name: RemoteFailureType): void {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

/** Every error of the remote layer. */
export abstract class RemoteError extends Error {
  declare readonly name: RemoteFailureType;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  get retryable(): boolean {
    return failureTypes[this.name].retryable;
  }
}

/** The host presented a key other than the pinned one (or none was pinned): a retry will not change that. */
export class HostKeyMismatch extends RemoteError {
  static {
    nameErrorClass(this, 'HostKeyMismatch');
  }
  constructor(
    /** user@host:port */
    readonly target: string,
    /** the fingerprint the host presented, `SHA256:…` */
    readonly seen: string,
    /** the pinned fingerprint */
    readonly expected: string,
    /** the type of the key the host presented, e.g. `ssh-ed25519` */
    readonly seenKeyType = 'unknown type',
  ) {
    const file = /ed25519/.test(seenKeyType)
      ? 'ed25519'
      : /ecdsa/.test(seenKeyType)
        ? 'ecdsa'
        : /rsa/.test(seenKeyType)
          ? 'rsa'
          : '*';
    super(
      `host key of ${target} is ${seen} (${seenKeyType}) but ${expected} is pinned: refusing to connect. ` +
        `If the host's key really changed, read it on the host (\`ssh-keygen -l -E sha256 -f /etc/ssh/ssh_host_${file}_key.pub\`) ` +
        'and update the inventory; the pin must be of the key type shown here.',
    );
  }
}

/** The host refused every key offered: a retry will not change that either. */
export class RemoteAuthFailed extends RemoteError {
  static {
    nameErrorClass(this, 'RemoteAuthFailed');
  }
}

/**
 * The host could not be reached or the connection died (refused, reset, timed out, dropped in the middle of a
 * command): retrying may help. A command whose start was cut off may or may not have started.
 */
export class RemoteUnavailable extends RemoteError {
  static {
    nameErrorClass(this, 'RemoteUnavailable');
  }
}

/** The VM or its guest agent does not answer (VM stopped, agent not running, no agent configured, unknown VM). */
export class GuestUnreachable extends RemoteError {
  static {
    nameErrorClass(this, 'GuestUnreachable');
  }
}

/**
 * The guest command started but its result is gone: the guest agent forgot the pid (it restarted, or a result
 * was read by a call whose answer was lost with its connection). Rerunning starts the command afresh.
 */
export class GuestResultLost extends RemoteError {
  static {
    nameErrorClass(this, 'GuestResultLost');
  }
}

/**
 * The remote layer could not run the command for a reason other than the above (an unknown VM, qm refused its arguments, the
 * guest could not start /bin/bash, an answer could not be parsed). The command's own non-zero exit code is NOT
 * this: `run` returns that as a result.
 */
export class GuestExecFailed extends RemoteError {
  static {
    nameErrorClass(this, 'GuestExecFailed');
  }
}

/** A command the remote layer refuses before sending it (bad label, NUL bytes, stdin or command line too long). */
export class InvalidGuestCommand extends RemoteError {
  static {
    nameErrorClass(this, 'InvalidGuestCommand');
  }
}

/** The command ran past its timeout and was killed in the guest; carries what it had printed by then. */
export class GuestCommandTimeout extends RemoteError {
  static {
    nameErrorClass(this, 'GuestCommandTimeout');
  }
  constructor(
    readonly label: string,
    readonly pid: number,
    readonly timeoutMs: number,
    /** what the command printed until it was killed (empty when it could not be collected) */
    readonly stdout: string,
    readonly stderr: string,
    /** whether the kill was confirmed; when false, `killError` says why */
    readonly killed: boolean,
    readonly where: string,
    readonly killError?: string,
  ) {
    super(
      `${label} (pid ${pid}, ${where}) did not finish within ${formatMs(timeoutMs)}: ` +
        (killed ? 'killed it' : `could not kill it (${killError ?? 'unknown'})`) +
        `; last output: ${JSON.stringify(tail(stdout + (stderr ? `\n[stderr]\n${stderr}` : ''), 1000)) || '(none)'}`,
    );
  }

  /** the end of what the command printed, stdout then stderr */
  get lastOutput(): string {
    return tail(this.stdout + (this.stderr ? `\n[stderr]\n${this.stderr}` : ''), 4000);
  }
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function tail(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}
