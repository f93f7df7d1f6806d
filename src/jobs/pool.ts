import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseBackendName, type BackendName } from '../backend';
import type { PoolProgressSink, ProgressUpdate } from '../progress';

/**
 * A pool of worker threads for independent jobs (training several models, running several
 * attacks).
 *
 * Why a pool: the wasm backend — what runs wherever tfjs-node cannot install — computes on
 * one core per thread (tfjs disables its multi-threaded wasm build in Node), so a single
 * process leaves every other core idle. Each worker thread has its own tfjs and its own wasm
 * instance, so N independent jobs on N workers run N times as fast as one after another.
 *
 * Why one worker per core by default: a wasm job keeps its core busy, so more workers than
 * cores only time-slice the same cores (and multiply the memory held by models and datasets),
 * and fewer leave cores idle. The native tfjs-node backend already uses every core: with it,
 * ask for `workers: 1` (or PBE_WORKERS=1).
 */

declare const RESULT: unique symbol;

/**
 * A call of an exported async function `fn(args, ctx)` of the TypeScript module at `module`,
 * whose result is an R. Build one with a JobType (below) so that args and result are checked;
 * a hand-written literal has R = any.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a hand-written job literal has no result type (above)
export interface Job<A = unknown, R = any> {
  /** Absolute path: workers do not share the parent's working directory assumptions. */
  module: string;
  fn: string;
  /** Must be structured-cloneable, as must the function's result. */
  args?: A;
  /** Names the job in progress lines and errors; defaults to `<module file>#<fn>`. */
  label?: string;
  /** the result's type, for inference only (never set) */
  readonly [RESULT]?: R;
}

/** The second argument of every job function. */
export interface JobContext {
  /** Unique within a pool; a replacement for a crashed worker gets a new one. */
  workerId: number;
  backend: BackendName;
  progress(update: ProgressUpdate): void;
}

export type JobFunction<A = unknown, R = unknown> = (args: A, ctx: JobContext) => Promise<R>;

/** An exported job function, by module and name, that makes typed jobs. */
export interface JobType<A, R> {
  module: string;
  fn: string;
  job(args: A, label?: string): Job<A, R>;
}

/**
 * The job type of `fn`, exported under its own name by the module at `module`; a job module
 * declares it beside the function: `export const trainBenignJobType = jobType(__filename, trainBenignJob)`.
 */
export function jobType<A, R>(module: string, fn: JobFunction<A, R>): JobType<A, R> {
  if (!path.isAbsolute(module)) throw new Error(`jobType: module must be an absolute path, got '${module}'`);
  return { module, fn: fn.name, job: (args, label) => ({ module, fn: fn.name, args, label }) };
}

export interface JobPoolOptions {
  /** Default: PBE_WORKERS, else one per core (`os.availableParallelism()`). */
  workers?: number;
  /** Backend every worker initialises; default: PBE_BACKEND, else the fastest that loads. */
  backend?: string;
  /** e.g. poolProgressSink() from src/progress.ts; closed with the pool */
  onProgress?: PoolProgressSink;
}

/** Data a worker starts with. */
export interface WorkerData {
  workerId: number;
  backend?: string;
}

export type ToWorker = { type: 'run'; taskId: number; module: string; fn: string; args: unknown };

export type FromWorker =
  | { type: 'progress'; taskId: number; update: ProgressUpdate }
  | { type: 'result'; taskId: number; result: unknown }
  | { type: 'error'; taskId: number; message: string; stack?: string };

/**
 * From the sources, a plain .js file that registers tsx first, since a worker starts with a fresh
 * module loader; from the compiled package (dist/), the compiled worker itself.
 */
const WORKER_ENTRY = path.join(__dirname, __filename.endsWith('.ts') ? 'worker-entry.js' : 'worker.js');

interface Task {
  id: number;
  job: Job;
  label: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  id: number;
  worker: Worker;
  task: Task | null;
}

function positiveInteger(value: unknown, origin: string): number {
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new Error(`${origin} must be a positive integer, got '${String(value)}'`);
  }
  return n;
}

export function defaultWorkerCount(): number {
  const env = process.env.PBE_WORKERS;
  if (env !== undefined && env.trim() !== '') return positiveInteger(env, 'PBE_WORKERS');
  return os.availableParallelism();
}

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

export class JobPool {
  readonly size: number;
  private readonly backend?: string;
  private readonly onProgress?: PoolProgressSink;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextWorkerId = 1;
  private nextTaskId = 1;
  private closed = false;

  constructor(opts: JobPoolOptions = {}) {
    this.size = opts.workers === undefined ? defaultWorkerCount() : positiveInteger(opts.workers, 'JobPool workers');
    // A misspelt backend should fail here, once, rather than in every job.
    if (opts.backend !== undefined) parseBackendName(opts.backend, 'JobPool backend');
    this.backend = opts.backend;
    this.onProgress = opts.onProgress;
  }

  run<R>(job: Job<unknown, R>): Promise<R> {
    const label = job.label ?? `${path.basename(job.module)}#${job.fn}`;
    if (this.closed) return Promise.reject(new Error(`job '${label}': the pool is closed`));
    if (!path.isAbsolute(job.module)) {
      return Promise.reject(new Error(`job '${label}': module must be an absolute path, got '${job.module}'`));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ id: this.nextTaskId++, job, label, resolve: resolve as (r: unknown) => void, reject });
      this.dispatch();
    });
  }

  /**
   * Results in the order of `jobs`. Fails fast: the first failure rejects, while the other
   * jobs keep running until the pool is closed.
   */
  runAll<R>(jobs: readonly Job<unknown, R>[]): Promise<R[]> {
    return Promise.all(jobs.map((j) => this.run<R>(j)));
  }

  /** Cancels queued and running jobs and terminates every worker. */
  async close(): Promise<void> {
    this.closed = true;
    this.onProgress?.close?.();
    const cancelled = (t: Task) => t.reject(new Error(`job '${t.label}' cancelled: the pool was closed`));
    this.queue.splice(0).forEach(cancelled);
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      if (slot.task) cancelled(slot.task);
      slot.task = null;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.task === null) ?? (this.slots.length < this.size ? this.spawn() : null);
      if (!slot) return;
      this.start(slot, this.queue.shift()!);
    }
  }

  private spawn(): Slot {
    const data: WorkerData = { workerId: this.nextWorkerId++, backend: this.backend };
    const slot: Slot = { id: data.workerId, worker: new Worker(WORKER_ENTRY, { workerData: data }), task: null };
    // An idle worker must not keep the parent alive if the caller forgets close().
    slot.worker.unref();
    slot.worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
    slot.worker.on('error', (e) => this.onDeath(slot, `crashed with an uncaught exception: ${errorText(e)}`));
    slot.worker.on('exit', (code) => this.onDeath(slot, `exited with code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private start(slot: Slot, task: Task): void {
    const msg: ToWorker = { type: 'run', taskId: task.id, module: task.job.module, fn: task.job.fn, args: task.job.args };
    try {
      slot.worker.postMessage(msg);
    } catch (e) {
      task.reject(new Error(`job '${task.label}': its arguments cannot be sent to a worker: ${(e as Error).message}`));
      return;
    }
    slot.task = task;
    slot.worker.ref();
  }

  private finish(slot: Slot): void {
    slot.task = null;
    slot.worker.unref();
    this.dispatch();
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    const task = slot.task;
    // Progress a job reports after returning must not be credited to the worker's next job.
    if (!task || task.id !== m.taskId) return;
    switch (m.type) {
      case 'progress':
        this.onProgress?.(task.label, m.update, slot.id);
        return;
      case 'result':
        this.finish(slot);
        task.resolve(m.result);
        return;
      case 'error':
        this.finish(slot);
        task.reject(new Error(`job '${task.label}' failed in worker ${slot.id}: ${m.message}\n  worker stack: ${m.stack ?? '(none)'}`));
        return;
    }
  }

  /** 'error' is followed by 'exit': the first one fails the job, a replacement spawns on demand. */
  private onDeath(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    const task = slot.task;
    slot.task = null;
    if (task) {
      task.reject(new Error(`job '${task.label}' failed: worker ${slot.id} ${why}`));
    } else {
      // Something a finished job left running (a timer, a stray promise) killed an idle worker.
      process.emitWarning(`job pool: idle worker ${slot.id} ${why}`);
    }
    this.dispatch();
  }
}

/** Runs `jobs` on a fresh pool and closes it, also when a job fails. */
export async function runJobs<R>(jobs: readonly Job<unknown, R>[], opts: JobPoolOptions = {}): Promise<R[]> {
  const pool = new JobPool(opts);
  try {
    return await pool.runAll<R>(jobs);
  } finally {
    await pool.close();
  }
}
