/**
 * The remote layer's contract with the phases: a Guest runs fixed scripts on one VM, however it is reached
 * (through the Proxmox node's `qm guest exec`, or straight over SSH).
 */

export interface GuestCommand {
  /** Fixed script text, run as `/bin/bash -c <script> <label> <args…>`: values arrive as $1, $2, … never spliced. */
  script: string;
  args?: readonly string[];
  /** Bytes for the script's stdin (configs, records): at most 1 MiB, as qm allows. */
  stdin?: string;
  /** The command is killed in the guest and the run fails with GuestCommandTimeout after this long. */
  timeoutMs: number;
  /** Names the command in errors, heartbeats and the guest's process list, e.g. `backup`. */
  label: string;
}

export interface GuestResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What a running command reports while it is waited for: fed to the activity heartbeat. */
export interface GuestProgress {
  /** The command's pid in the guest: a retried activity passes it back as `resumePid`. */
  pid: number;
  elapsedMs: number;
}

export interface RunHooks {
  /** Aborting kills the command in the guest (activity cancellation), unless `leaveRunning` says otherwise. */
  signal?: AbortSignal;
  /**
   * Asked with the abort reason when `signal` aborts: true = stop waiting and leave the command running, since a
   * later run resumes it by its pid (the activity's retry after a worker shutdown); false or absent = kill it.
   */
  leaveRunning?: (reason: unknown) => boolean;
  onProgress?: (progress: GuestProgress) => void;
  /** A pid from an earlier attempt: when that command still runs (or has finished unread), wait for it instead. */
  resumePid?: number;
}

export interface Guest {
  /** e.g. `vm 105 via qm on root@127.0.0.1:2222` */
  readonly description: string;
  run(command: GuestCommand, hooks?: RunHooks): Promise<GuestResult>;
}

/** The Proxmox node itself: `qm status|config|guest cmd` and other short commands. */
export interface ProxmoxNode {
  readonly description: string;
  /** Runs `qm <args…>` on the node (arguments quoted) and returns what it printed. */
  qm(args: readonly string[]): Promise<GuestResult>;
  /** Runs a fixed script on the node as `/bin/bash -c <script> <label> <args…>`; a non-zero exit is a result. */
  shell(command: Omit<GuestCommand, 'timeoutMs'>): Promise<GuestResult>;
}
