import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend';
import type { FromWorker, JobContext, JobFunction, ToWorker, WorkerData } from './pool';

/**
 * The worker side of JobPool: initialises a backend once, then runs one job at a time.
 *
 * Every job error is caught and posted back as a message. Nothing may be left unhandled here:
 * the wasm backend's emscripten module installs process handlers that rethrow any uncaught
 * exception or unhandled rejection, which kills the worker (and, in a main thread, prints the
 * whole minified wasm glue source).
 */

if (!parentPort) throw new Error('src/jobs/worker.ts runs only as a worker thread started by JobPool');
const port = parentPort;
const { workerId, backend } = workerData as WorkerData;

const ready = initBackend(backend);
// Each job awaits `ready` and reports a failed initialisation as its own error; this handler
// only keeps the rejection from counting as unhandled before the first job arrives.
ready.catch(() => {});

function post(m: FromWorker): void {
  port.postMessage(m);
}

async function run(m: ToWorker): Promise<void> {
  try {
    const name = await ready;
    const mod = require(m.module) as Record<string, unknown>;
    const fn = mod[m.fn];
    if (typeof fn !== 'function') throw new Error(`${m.module} exports no function '${m.fn}'`);
    const ctx: JobContext = {
      workerId,
      backend: name,
      progress: (update) => post({ type: 'progress', taskId: m.taskId, update }),
    };
    const result = await (fn as JobFunction)(m.args, ctx);
    try {
      post({ type: 'result', taskId: m.taskId, result });
    } catch (e) {
      throw new Error(`its result cannot be sent to the parent: ${(e as Error).message}`, { cause: e });
    }
  } catch (e) {
    if (e instanceof Error) post({ type: 'error', taskId: m.taskId, message: e.message, stack: e.stack });
    else post({ type: 'error', taskId: m.taskId, message: String(e) });
  }
}

port.on('message', (m: ToWorker) => void run(m));
