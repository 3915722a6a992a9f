import { ApplicationFailure } from '@temporalio/common';

/**
 * Every failure type the product raises, who raises it, and whether another attempt may help. The remote layer's
 * errors take `retryable` from here, the activities fail with `ApplicationFailure`s whose `nonRetryable` comes from
 * here, and migrateVm's retry policies list the types that are not. Pure data: the workflow sandbox imports it.
 */
export const failureTypes = {
  // the remote layer (src/remote/errors.ts): the error class's name is the type
  /** the host presented a key other than the pinned one (or none was pinned) */
  HostKeyMismatch: { raisedBy: 'remote', retryable: false },
  /** the host refused every key offered */
  RemoteAuthFailed: { raisedBy: 'remote', retryable: false },
  /** the host could not be reached, or the connection died */
  RemoteUnavailable: { raisedBy: 'remote', retryable: true },
  /** the VM or its guest agent does not answer */
  GuestUnreachable: { raisedBy: 'remote', retryable: true },
  /** the guest agent forgot the pid of a started command: a rerun starts it afresh */
  GuestResultLost: { raisedBy: 'remote', retryable: true },
  /** qm or the guest could not run the command (unknown VM, refused arguments, no bash, an unreadable answer) */
  GuestExecFailed: { raisedBy: 'remote', retryable: false },
  /** refused before sending: bad label, NUL bytes, stdin or command line too long */
  InvalidGuestCommand: { raisedBy: 'remote', retryable: false },
  /** the same command would most likely run into the same wall (a hung installer, a full disk) */
  GuestCommandTimeout: { raisedBy: 'remote', retryable: false },

  // the phases (src/activities/)
  /** a phase's script exited non-zero: another attempt may find the guest in a better state */
  GuestCommandFailed: { raisedBy: 'activity', retryable: true },
  /** the scan refuses the VM before anything changes */
  PreflightRefused: { raisedBy: 'activity', retryable: false },
  BackupFailed: { raisedBy: 'activity', retryable: false },
  BackupVerificationFailed: { raisedBy: 'activity', retryable: false },
  AcceptanceFailed: { raisedBy: 'activity', retryable: false },
  /** the installed release's `openclaw doctor --fix --non-interactive` failed on the copy (phase E): its tail */
  DoctorFailed: { raisedBy: 'activity', retryable: false },
  /**
   * phase D cannot meet the run's `openclawVersion`: `docker` with a Docker-era release the scan could not read, or
   * the installed release is not the one asked for (both named)
   */
  OpenclawVersionUnmet: { raisedBy: 'activity', retryable: false },
  /** an input that fails its schema, in a workflow or an activity (src/migration/input.ts) */
  InvalidInput: { raisedBy: 'activity', retryable: false },
  /** the node's ledger could not be written */
  LedgerCommitFailed: { raisedBy: 'activity', retryable: true },
  /** a webhook did not take a notification (src/activities/notify.ts): the next attempt tries it again */
  NotificationFailed: { raisedBy: 'activity', retryable: true },

  // migrateVm's own ends (a workflow failure is never retried: the types tell a fleet and a dashboard how it ended)
  MigrationRolledBack: { raisedBy: 'workflow', retryable: false },
  RollbackIncomplete: { raisedBy: 'workflow', retryable: false },
  /**
   * pre-staged ahead, it never reached C: its fleet stopped starting (canary, failure budget) or ended, and the
   * compensations undid what pre-staging had registered; the customer saw nothing (not a failure of the VM)
   */
  PrestageUndone: { raisedBy: 'workflow', retryable: false },
} as const satisfies Record<string, { raisedBy: 'remote' | 'activity' | 'workflow'; retryable: boolean }>;

export type FailureType = keyof typeof failureTypes;
type Entry = (typeof failureTypes)[FailureType];
export type RemoteFailureType = {
  [T in FailureType]: (typeof failureTypes)[T]['raisedBy'] extends 'remote' ? T : never;
}[FailureType];
export type NonRetryableType = {
  [T in FailureType]: (typeof failureTypes)[T]['retryable'] extends false ? T : never;
}[FailureType];

/**
 * What an activity can fail with that no retry may fix: migrateVm's retry policies list them, so that even a
 * failure that reaches the server without its own `nonRetryable` (an older worker's) is not retried.
 */
export const nonRetryableActivityTypes = (Object.entries(failureTypes) as [FailureType, Entry][])
  .filter(([, { raisedBy, retryable }]) => raisedBy !== 'workflow' && !retryable)
  .map(([type]) => type);

/** A failure of this type, retryable or not as the registry says; `details` travel with it (the UI shows them). */
export function failure(type: FailureType, message: string, details: unknown[] = []): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: !failureTypes[type].retryable, details });
}
