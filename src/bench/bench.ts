import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { activeBackend, BACKEND_ORDER, type BackendName, initBackend, runtimeInfo } from '../backend';
import { loadNativeAddon } from '../kernels/native';
import { pgd, PGD_DEFAULT } from '../attacks/adversarial/pgd';
import type { Model, ModelArch } from '../models/model';
import { createModel } from '../models/registry';
import { Rng } from '../rng';
import { createOptimizer } from '../train/optimizer';
import { crossEntropy } from '../train/trainer';

export interface BenchRow {
  backend: BackendName;
  /** compute threads: oneDNN's OpenMP threads for the native backend, 1 for wasm */
  threads: number;
  model: ModelArch;
  task: 'train-step' | 'pgd-7' | 'inference';
  batch: number;
  /** why the batch differs from the standard one, when it does */
  note?: string;
  secondsPerBatch: number;
  imagesPerSecond: number;
  gflopPerSecond: number;
  /** how the FLOPs of one image were counted */
  flopsRule: string;
}

export interface BenchReport {
  runtime: ReturnType<typeof runtimeInfo>;
  rows: BenchRow[];
}

/**
 * Median of `reps` timed runs after `warmup` untimed ones (the first runs build XNNPACK operators
 * or compile WebGPU pipelines). Each run ends with a read of its result, which waits for a GPU.
 */
async function timeIt(fn: () => Promise<void>, warmup: number, reps: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * A random batch. `labels` makes a fresh label tensor for PGD, which checks its labels with a
 * synchronous read: on webgpu that works only while a tensor's values are still in JavaScript,
 * before any kernel has used it.
 */
export function batchOf(rng: Rng, n: number, k: number): { x: tf.Tensor4D; y: tf.Tensor1D; labels: () => tf.Tensor1D } {
  const x = tf.tensor4d(rng.uniformArray(n * 32 * 32 * 3), [n, 32, 32, 3]);
  const values = Int32Array.from({ length: n }, () => rng.int(k));
  const labels = () => tf.tensor1d(values, 'int32');
  return { x, y: labels(), labels };
}

export async function trainStep(model: Model, x: tf.Tensor4D, y: tf.Tensor1D, opt: ReturnType<typeof createOptimizer>): Promise<void> {
  const names = [...model.params.keys()];
  const vars = names.map((k) => model.params.get(k)!);
  const { value, grads } = tf.variableGrads(() => crossEntropy(model, x, y, { epoch: 0, batch: 0 }).loss, vars);
  const byName = Object.fromEntries(names.map((k, i) => [k, grads[vars[i].name]]));
  opt.step(model.params, byName, 0.01);
  model.commitState();
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
}

/** Runs `make` in a tidy scope and waits for its result's values. */
export async function readResult(make: () => tf.Tensor): Promise<void> {
  const t = tf.tidy(make);
  await t.data();
  t.dispose();
}

/**
 * Throughput of the three workloads that dominate pbe-lab, per model. FLOPs come from the layer
 * shapes (convolutions and dense layers, 2 per multiply-add): a training step counts 3× the
 * forward pass (forward, input gradients, weight gradients), a PGD iteration 2× (forward and
 * input gradients), so 7 iterations count 14× per image.
 */
export async function runBench(opts: { archs?: ModelArch[]; reps?: number; batch?: number; log?: (row: BenchRow) => void } = {}): Promise<BenchReport> {
  const rng = new Rng('bench');
  const rows: BenchRow[] = [];
  const reps = opts.reps ?? 3;
  for (const arch of opts.archs ?? (['smallcnn', 'preact-resnet18'] as ModelArch[])) {
    // wasm32 addresses at most 4 GiB: a PreAct-ResNet18 step at batch 128 needs more (batch 64
    // peaks at 2.2 GiB), and running out corrupts the wasm instance, so measure it at 64.
    const large = opts.batch === undefined && arch !== 'smallcnn' && tf.getBackend() === 'wasm';
    const trainBatch = opts.batch ?? (large ? 64 : 128);
    const note = large ? 'batch 128 exceeds the 4 GiB wasm heap' : opts.batch !== undefined ? 'batch set by --batch-size' : undefined;
    const model = createModel({ arch, inputShape: [32, 32, 3], numClasses: 10 }, 'bench');
    const flops = model.forwardFlops();
    const opt = createOptimizer({ kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
    const add = (task: BenchRow['task'], batch: number, seconds: number, perImage: number, rule: string, why?: string) => {
      const row: BenchRow = {
        backend: activeBackend(),
        threads: activeBackend() === 'native' ? loadNativeAddon().getThreads() : 1,
        model: arch,
        task,
        batch,
        ...(why ? { note: why } : {}),
        secondsPerBatch: seconds,
        imagesPerSecond: batch / seconds,
        gflopPerSecond: (batch * perImage) / seconds / 1e9,
        flopsRule: rule,
      };
      rows.push(row);
      opts.log?.(row);
    };
    {
      const { x, y, labels } = batchOf(rng, trainBatch, 10);
      add('train-step', trainBatch, await timeIt(() => trainStep(model, x, y, opt), 2, reps), 3 * flops, '3 × forward', note);
      const adv = () => readResult(() => pgd(model, x, labels(), PGD_DEFAULT));
      add('pgd-7', trainBatch, await timeIt(adv, 1, reps), 14 * flops, '7 × (forward + input gradient) = 14 × forward', note);
      tf.dispose([x, y]);
    }
    {
      const batch = opts.batch ?? 256;
      const { x, y } = batchOf(rng, batch, 10);
      add(
        'inference',
        batch,
        await timeIt(() => readResult(() => model.predict(x)), 1, reps),
        flops,
        '1 × forward',
        opts.batch !== undefined ? 'batch set by --batch-size' : undefined,
      );
      tf.dispose([x, y]);
    }
    opt.dispose();
    model.dispose();
  }
  return { runtime: runtimeInfo(), rows };
}

export interface BenchAllOptions {
  archs?: ModelArch[];
  reps?: number;
  /** one batch size for every task, instead of the standard ones */
  batch?: number;
  /** the backends to measure; default every one that loads, except the slow reference cpu */
  backends?: BackendName[];
  /** the native backend is measured once per thread count (default 1 and every core) */
  nativeThreads?: number[];
  log?: (row: BenchRow) => void;
  /** told about each backend that could not load (only when the backends were not named) */
  skipped?: (backend: BackendName, why: string) => void;
}

/** runBench on every backend that loads, and on the native one at each thread count. */
export async function runBenchAll(opts: BenchAllOptions = {}): Promise<BenchReport> {
  const named = opts.backends !== undefined;
  const backends = opts.backends ?? BACKEND_ORDER.filter((b) => b !== 'cpu');
  const rows: BenchRow[] = [];
  for (const backend of backends) {
    try {
      await initBackend(backend);
    } catch (e) {
      if (named) throw e;
      opts.skipped?.(backend, (e as Error).message.split('\n')[0]);
      continue;
    }
    const threads = backend === 'native' ? (opts.nativeThreads ?? [...new Set([1, os.availableParallelism()])]) : [1];
    for (const t of threads) {
      if (backend === 'native') loadNativeAddon().setThreads(t);
      rows.push(...(await runBench({ archs: opts.archs, reps: opts.reps, batch: opts.batch, log: opts.log })).rows);
    }
  }
  return { runtime: runtimeInfo(), rows };
}
