import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const READY = /worker polling task queue/;

export interface WorkerProcessOptions {
  /** the dev server's host:port */
  address: string;
  taskQueue: string;
  namespace?: string;
  /** every generation's stdout and stderr are appended here */
  logPath: string;
  /** how long a new worker may take to poll (loading its TypeScript and the workflow bundle); default 60 s */
  readyTimeoutMs?: number;
  /** the worker's entry point, relative to the repository; default src/worker.ts, the project's */
  script?: string;
  /** more environment for the worker (e.g. a Temporal profile) */
  env?: NodeJS.ProcessEnv;
}

export interface WorkerGeneration {
  /** 1, 2, … in the order they were started */
  generation: number;
  pid: number;
  startedAt: number;
  /** when it was killed (or, stopped gracefully, when it had exited) */
  killedAt?: number;
}

/**
 * The project's worker (`node --import tsx src/worker.ts`) as a child process of its own, started again after each
 * crash: the way a worker dies in production (OOM killer, a lost machine) is SIGKILL, which no code in it gets to
 * see. Each generation runs in a process group of its own (with anything it starts), and kill() sends SIGKILL to
 * that group only.
 */
export class WorkerProcesses {
  readonly generations: WorkerGeneration[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(private readonly options: WorkerProcessOptions) {}

  get taskQueue(): string {
    return this.options.taskQueue;
  }

  get current(): WorkerGeneration | undefined {
    return this.child ? this.generations[this.generations.length - 1] : undefined;
  }

  /** Starts a new worker and resolves once it polls its task queue (its log says so). */
  async start(): Promise<WorkerGeneration> {
    if (this.child) throw new Error(`worker generation ${this.current?.generation} still runs`);
    const generation = this.generations.length + 1;
    const log = openSync(this.options.logPath, 'a');
    writeSync(log, `\n===== worker generation ${generation} starting at ${new Date().toISOString()}\n`);
    const offset = readFileSync(this.options.logPath).length;
    // node with tsx's loader, one process (the tsx CLI would run the worker in a second node); the workflow code
    // is the bundle OPENCLAW_WORKFLOW_BUNDLE names (the jest global setup's), loaded, not bundled again
    const child = spawn(process.execPath, ['--import', 'tsx', this.options.script ?? 'src/worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...this.options.env,
        TEMPORAL_ADDRESS: this.options.address,
        TEMPORAL_TASK_QUEUE: this.options.taskQueue,
        TEMPORAL_NAMESPACE: this.options.namespace ?? 'default',
      },
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    let exitedEarly = false;
    void exited.then(() => (exitedEarly = true));
    if (child.pid === undefined) throw new Error('the worker process did not start');
    this.child = child;
    this.exited = exited;
    const entry: WorkerGeneration = { generation, pid: child.pid, startedAt: Date.now() };
    this.generations.push(entry);

    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 60_000);
    for (;;) {
      const output = readFileSync(this.options.logPath).subarray(offset).toString('utf8');
      if (READY.test(output)) return entry;
      if (exitedEarly) {
        this.child = undefined;
        throw new Error(`worker generation ${generation} exited before it polled:\n${output.slice(-2000)}`);
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `worker generation ${generation} did not poll within the time allowed:\n${output.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL to the current worker's process group (no graceful shutdown); resolves once it is gone. */
  async kill(): Promise<WorkerGeneration | undefined> {
    const child = this.child;
    const entry = this.current;
    if (!child || !entry) return undefined;
    try {
      process.kill(-entry.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    entry.killedAt = Date.now();
    await this.exited;
    this.child = undefined;
    return entry;
  }

  /**
   * Stops the current worker the way an operator or a service manager does: SIGTERM to the worker, which shuts
   * down gracefully (its activities get the worker's shutdown grace time). SIGKILL after `timeoutMs` if it has not
   * exited by then.
   */
  async stop(timeoutMs = 30_000): Promise<WorkerGeneration | undefined> {
    const child = this.child;
    const entry = this.current;
    if (!child || !entry) return undefined;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-entry.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
    entry.killedAt = Date.now();
    this.child = undefined;
    return entry;
  }

  /** SIGSTOP to the current worker's process group: it holds still (a kill then lands at an exact point). */
  freeze(): void {
    if (this.current) process.kill(-this.current.pid, 'SIGSTOP');
  }

  /** Kills the current worker as a crash would, then starts the next one. */
  async crashAndRestart(): Promise<{ killed: WorkerGeneration | undefined; started: WorkerGeneration }> {
    const killed = await this.kill();
    const started = await this.start();
    return { killed, started };
  }

  log(): string {
    return readFileSync(this.options.logPath, 'utf8');
  }
}
