/**
 * The speed-up of two independent jobs on a 2-worker JobPool, with real tfjs work on wasm:
 * one job alone, then two identical jobs at once, on a warm pool. Prints JSON; a ratio
 * (two jobs / one job) near 1 means the second core came for free, 2 means no gain.
 *
 *   npx tsx scripts/pool-speedup.ts [seconds per job, default 5]
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { JobPool, type JobContext } from '../src/jobs/pool';
import { Rng } from '../src/rng';

export interface ConvResult {
  workerId: number;
  backend: string;
  seconds: number;
}

/** `reps` forward passes of a 3×3 convolution, 32 → 64 channels, over 16 maps of 32×32. */
export async function convWork(args: { reps: number }, ctx: JobContext): Promise<ConvResult> {
  const rng = new Rng('pool-speedup');
  const x = tf.tensor4d(rng.normalArray(16 * 32 * 32 * 32), [16, 32, 32, 32]);
  const w = tf.tensor4d(rng.normalArray(3 * 3 * 32 * 64), [3, 3, 32, 64]);
  const t0 = performance.now();
  // wasm kernels run eagerly when called, so no read-back is needed to time them.
  for (let i = 0; i < args.reps; i++) tf.conv2d(x, w, 1, 'same').dispose();
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([x, w]);
  return { workerId: ctx.workerId, backend: tf.getBackend(), seconds };
}

/**
 * Wall seconds, and the cores this process kept busy meanwhile (CPU time / wall time, all
 * threads): on a shared machine a poor speed-up with under 2 busy cores means other
 * processes held a core, not that the jobs got in each other's way.
 */
async function timed<T>(f: () => Promise<T>): Promise<[T, number, number]> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await f();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return [r, wall, (cpu.user + cpu.system) / 1e6 / wall];
}

async function main(secondsPerJob: number): Promise<void> {
  const job = (reps: number) => ({ module: __filename, fn: 'convWork', args: { reps } });
  const pool = new JobPool({ workers: 2, backend: 'wasm' });
  try {
    const loadBefore = os.loadavg()[0];
    await pool.runAll([job(3), job(3)]); // both workers started, wasm compiled, kernels warm
    const probe = await pool.run<ConvResult>(job(10));
    const reps = Math.max(1, Math.round((10 * secondsPerJob) / probe.seconds));
    const [alone, oneSec, oneBusy] = await timed(() => pool.run<ConvResult>(job(reps)));
    const [pair, twoSec, twoBusy] = await timed(() => pool.runAll<ConvResult>([job(reps), job(reps)]));
    console.log(
      JSON.stringify(
        {
          backend: alone.backend,
          cores: os.availableParallelism(),
          cpu: os.cpus()[0]?.model ?? 'unknown',
          loadavg1minBefore: Number(loadBefore.toFixed(2)),
          loadavg1minAfter: Number(os.loadavg()[0].toFixed(2)),
          repsPerJob: reps,
          oneJobSec: Number(oneSec.toFixed(2)),
          oneJobBusyCores: Number(oneBusy.toFixed(2)),
          twoJobsSec: Number(twoSec.toFixed(2)),
          twoJobsBusyCores: Number(twoBusy.toFixed(2)),
          twoJobsWorkers: pair.map((r) => r.workerId),
          ratio: Number((twoSec / oneSec).toFixed(3)),
          speedup: Number(((2 * oneSec) / twoSec).toFixed(3)),
        },
        null,
        2,
      ),
    );
  } finally {
    await pool.close();
  }
}

if (require.main === module) {
  main(Number(process.argv[2] ?? 5)).catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
