import { execFile } from 'node:child_process';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** ms; the program is killed after it (and the result's code is 1) */
  timeout?: number;
  /** written to the program's stdin, which is then closed; without it stdin stays open and silent */
  input?: string;
}

/**
 * Runs a program (no shell) to its end; never rejects. `code` is its exit status, or 1 when it could not start,
 * died of a signal or timed out.
 */
export function execResult(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const { input, ...options } = opts;
  return new Promise((resolve) => {
    const child = execFile(cmd, args, options, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
