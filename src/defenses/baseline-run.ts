import type { AugmentConfig } from '../data/augment';
import type { Dataset, ImageSet } from '../data/dataset';
import type { Model } from '../models/model';
import { type FineTuned, type FineTuneHooks, fineTuneOrLoad } from '../train/run';
import type { EpochRecord, TrainConfig } from '../train/trainer';
import { type DefenseContext, DefenseInterrupted, type DefenseOptions } from './defense';

/** What the defenses share: the clean extra set, and fine-tuning through the cache. */

/** The clean extra set, or a clear error naming the defense that needs it. */
export function requireClean(ctx: Pick<DefenseContext, 'data'>, defense: string): Dataset {
  const clean = ctx.data.clean;
  if (!clean) throw new Error(`${defense} needs clean extra data (the defender's clean share of the training set, data.clean); none was given`);
  if (clean.shape[0] === 0) throw new Error(`${defense}: the clean extra set is empty`);
  return clean;
}

/** A fine-tune's schedule as flat options (SGD with momentum, cosine decay). */
export type FineTuneOptions = {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
};

/**
 * Fine-tuning as BackdoorBench runs its `ft` baseline on the 5% clean split: SGD lr 0.01, momentum
 * 0.9, weight decay 5e-4, cosine schedule, 100 epochs; batch 128 (the PBE reference code's)
 * instead of BackdoorBench's 256. FP's fine-tuning and NC's unlearning use the same schedule, as
 * BackdoorBench does.
 */
export const FINE_TUNE_DEFAULTS: FineTuneOptions = { epochs: 100, batchSize: 128, lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };

const BB = 'BackdoorBench config/defense/ft (shared by its fp and nc)';
export const FINE_TUNE_PROVENANCE: Record<keyof FineTuneOptions, string> = {
  epochs: `${BB}: 100 epochs on the 5% clean split`,
  batchSize: 'PBE reference code: batch 128 (BackdoorBench: 256)',
  lr: `${BB}: SGD lr 0.01 with cosine annealing`,
  momentum: `${BB}: momentum 0.9`,
  weightDecay: `${BB}: weight decay 5e-4`,
};

export function checkFineTune(o: FineTuneOptions, prefix: string): void {
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new Error(`${prefix}.epochs: expected an integer ≥ 0, got ${o.epochs}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`${prefix}.batchSize: expected an integer ≥ 1, got ${o.batchSize}`);
  for (const k of ['lr', 'momentum', 'weightDecay'] as const) {
    if (!(o[k] >= 0)) throw new Error(`${prefix}.${k}: expected a number ≥ 0, got ${o[k]}`);
  }
}

/** The trainer's config for a cosine fine-tune with the infected model's augmentation. */
export function cosineFineTune(o: FineTuneOptions, augment: AugmentConfig): TrainConfig {
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    optimizer: { kind: 'sgd', lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay },
    schedule: { kind: 'cosine' },
    augment,
  };
}

/** A fine-tune's trace as a defense's intermediate results keep it. */
export interface FineTuneLog {
  history: EpochRecord[];
  fromCache: boolean;
  seconds: number;
}

export interface FineTuneStep {
  defense: string;
  stage: string;
  from: Model;
  /** identifies the fine-tune beyond its start, data, schedule and seed (hook settings included) */
  spec?: Record<string, unknown>;
  trainSet: ImageSet;
  train: TrainConfig;
  hooks?: FineTuneHooks;
  /**
   * The fine-tune's identity in the cache when it is not `{ defense, stage, ...spec }` with seed
   * `<run seed>/<defense>/<stage>`: PBE keyed its stages its own way before it used this helper,
   * and keeps those keys so that its cached fine-tunes stay valid.
   */
  identity?: { spec: Record<string, unknown>; seed: string };
}

/**
 * One fine-tune of a defense, through the cache (resumed at its last finished epoch, or read when
 * done before); an interruption by `ctx.shouldStop` becomes DefenseInterrupted. Every defense
 * that fine-tunes (the baselines and PBE) does it through here.
 */
export async function fineTuneStep<O extends DefenseOptions>(ctx: DefenseContext<O>, step: FineTuneStep): Promise<FineTuned & { log: FineTuneLog }> {
  const started = Date.now();
  const r = await fineTuneOrLoad({
    from: step.from,
    spec: step.identity?.spec ?? { defense: step.defense, stage: step.stage, ...step.spec },
    trainSet: step.trainSet,
    train: step.train,
    seed: step.identity?.seed ?? `${String(ctx.seed)}/${step.defense}/${step.stage}`,
    hooks: step.hooks,
    label: `${step.defense}: ${step.stage}`,
    progress: ctx.progress,
    cache: ctx.cache,
    shouldStop: ctx.shouldStop,
  });
  if (!r.complete) {
    r.model.dispose();
    throw new DefenseInterrupted(step.defense, step.stage);
  }
  return { ...r, log: { history: r.record.history, fromCache: r.fromCache, seconds: (Date.now() - started) / 1000 } };
}
