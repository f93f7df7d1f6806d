import * as tf from '@tensorflow/tfjs-core';
import { pgd, PGD_DEFAULT } from '../attacks/adversarial/pgd';
import type { ModelArch } from '../models/model';
import { createModel } from '../models/registry';
import { Rng } from '../rng';
import { batchOf, readResult, trainStep } from './bench';
import { createOptimizer } from '../train/optimizer';

export interface KernelShare {
  kernel: string;
  ms: number;
  /** of the profiled run's wall time */
  share: number;
}

export interface StepProfile {
  model: ModelArch;
  task: 'train-step' | 'pgd-7';
  batch: number;
  wallMs: number;
  kernels: KernelShare[];
}

/**
 * Where a training step and a PGD-7 batch spend their time, per tfjs kernel (summed over calls,
 * after one warm-up run). A custom-gradient op (training batch norm) also appears as a scope whose
 * time includes its own kernels.
 */
export async function profileSteps(arch: ModelArch, batch: number): Promise<StepProfile[]> {
  const rng = new Rng('profile');
  const model = createModel({ arch, inputShape: [32, 32, 3], numClasses: 10 }, 'profile');
  const opt = createOptimizer({ kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const { x, y, labels } = batchOf(rng, batch, 10);
  const tasks: [StepProfile['task'], () => Promise<void>][] = [
    ['train-step', () => trainStep(model, x, y, opt)],
    ['pgd-7', () => readResult(() => pgd(model, x, labels(), PGD_DEFAULT))],
  ];
  const out: StepProfile[] = [];
  for (const [task, run] of tasks) {
    await run();
    const t0 = performance.now();
    const info = await tf.profile(run);
    const wallMs = performance.now() - t0;
    const byKernel = new Map<string, number>();
    for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
    const kernels = [...byKernel].map(([kernel, ms]) => ({ kernel, ms, share: ms / wallMs })).sort((a, b) => b.ms - a.ms);
    out.push({ model: arch, task, batch, wallMs, kernels });
  }
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return out;
}
