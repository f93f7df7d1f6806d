import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { canonicalJson, sha256 } from '../cache';
import { type AugmentConfig, makeBatch } from '../data/augment';
import type { ImageSet } from '../data/dataset';
import type { Model } from '../models/model';
import { weightsHash } from '../models/weights';
import { consoleSink, Progress, type ProgressSink } from '../progress';
import { Rng, type Seed } from '../rng';
import { RunCheckpoint } from './checkpoint';
import { createOptimizer, type OptimizerConfig } from './optimizer';
import { learningRate, type ScheduleConfig } from './schedule';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  augment: AugmentConfig;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  trainAcc: number;
  testAcc: number | null;
  /** attack success rate on the triggered test set after this epoch; infected models only */
  asr?: number;
  lr: number;
  seconds: number;
  /** what `summarizeEpoch` returned for this epoch */
  summary?: unknown;
}

/** The loss of one batch; the default is softmax cross-entropy on the model's training-mode logits. */
export type BatchLoss = (
  model: Model,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  step: { epoch: number; batch: number },
) => {
  loss: tf.Scalar;
  logits: tf.Tensor2D;
};

/** One mini-batch: float32 images in [0, 1] and int32 labels. */
export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

export interface BatchContext {
  epoch: number;
  batch: number;
  /** positions of the batch's images in the training set */
  indices: Int32Array;
  /** this batch's own stream (e.g. for PGD's random start): the same numbers on a resumed run */
  rng: Rng;
}

/** What is measured on held-out data after every epoch. */
export interface EpochMetrics {
  testAcc: number;
  asr?: number;
}

export interface TrainOptions {
  seed: Seed;
  /** Called after every epoch when given; its numbers go into the history and the progress line. */
  evaluate?: (model: Model) => EpochMetrics | Promise<EpochMetrics>;
  /** Folder for the per-epoch checkpoint; a run started again with the same folder resumes. */
  checkpointDir?: string;
  progress?: ProgressSink;
  label?: string;
  /** Runs inside gradient recording: only differentiable tensor work belongs here (no PGD). */
  loss?: BatchLoss;
  /**
   * Runs before each step, outside gradient recording, so it may differentiate the model itself
   * (PGD examples against the current weights). Returning a batch replaces this one; the trainer
   * then owns and disposes both.
   */
  prepareBatch?: (model: Model, batch: Batch, ctx: BatchContext) => Batch | void;
  /** Which params the optimiser updates (default all); the others keep their values bit for bit. */
  trainable?: (name: string) => boolean;
  /** Runs after each optimiser step, outside gradient recording (e.g. keep pruned weights at zero). */
  afterStep?: (model: Model, ctx: BatchContext) => void;
  /** Called after each epoch; its JSON-serialisable value goes into that epoch's record and checkpoint, so it survives a resume. */
  summarizeEpoch?: (epoch: number) => unknown;
  /**
   * What the hooks do, as JSON (functions cannot be hashed): part of the checkpoint's identity,
   * so a run with other hooks never resumes this one's checkpoint.
   */
  hooksKey?: unknown;
  /**
   * Called after every epoch with the epochs done, before the checkpoint records it, so what it
   * keeps is never missing for an epoch a resumed run skips. It must only read the model.
   */
  afterEpoch?: (model: Model, epochsDone: number) => Promise<void>;
  /** Checked after every epoch: when it returns true the run stops there, as an interruption would. */
  shouldStop?: (finishedEpochs: number) => boolean;
}

export interface TrainResult {
  history: EpochRecord[];
  /** epochs completed in total, including any resumed from a checkpoint */
  epochsDone: number;
  resumedFrom: number;
  complete: boolean;
}

export const crossEntropy: BatchLoss = (model, x, y) => {
  const { logits } = model.forward(x, { training: true });
  const k = logits.shape[1];
  return { loss: tf.losses.softmaxCrossEntropy(tf.oneHot(y, k), logits) as tf.Scalar, logits };
};

function validateConfig(cfg: TrainConfig, data: ImageSet): void {
  if (!Number.isInteger(cfg.epochs) || cfg.epochs < 0) throw new Error(`train.epochs: expected an integer ≥ 0, got ${cfg.epochs}`);
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1) throw new Error(`train.batchSize: expected an integer ≥ 1, got ${cfg.batchSize}`);
  if (data.shape[0] === 0) throw new Error(`train: dataset ${data.name}/${data.split} is empty`);
}

/** Predicted labels, eval mode, in batches. */
export async function predictLabels(model: Pick<Model, 'predict'>, ds: ImageSet, batchSize = 256, limit = ds.shape[0]): Promise<Int32Array> {
  const n = Math.min(limit, ds.shape[0]);
  const out = new Int32Array(n);
  const [, h, w, c] = ds.shape;
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const pred = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(makeBatch(ds, idx), [idx.length, h, w, c])), 1));
    out.set((await pred.data()) as Int32Array, start);
    pred.dispose();
  }
  return out;
}

function formatMetrics(r: EpochRecord): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  return `test acc ${pct(r.testAcc!)}${r.asr !== undefined ? ` ASR ${pct(r.asr)}` : ''}`;
}

export async function accuracy(model: Pick<Model, 'predict'>, ds: ImageSet, batchSize = 256): Promise<number> {
  const pred = await predictLabels(model, ds, batchSize);
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === ds.labels[i]) ok++;
  return pred.length > 0 ? ok / pred.length : 0;
}

/** What the trainer's checkpoint records beside the model and the optimiser. */
interface TrainProgress {
  epochsDone: number;
  history: EpochRecord[];
}

/** sha256 of a dataset's content (pixels and labels), not its name: subsets of one dataset share name and source. */
export function dataHash(data: Pick<ImageSet, 'images' | 'labels'>): string {
  const bytes = (a: Uint8Array | Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return createHash('sha256').update(bytes(data.images)).update(bytes(data.labels)).digest('hex');
}

/**
 * Trains `model` in place with mini-batch SGD/Adam, augmentation done per batch, an optional
 * clean-accuracy evaluation and a checkpoint after every epoch. The shuffling and augmentation of
 * epoch e come from the stream `seed/epoch-e`, so a run resumed from a checkpoint continues with
 * exactly the numbers an uninterrupted run would have drawn. A checkpoint is resumed only by a
 * run with the same configuration, data, hooks and starting weights.
 */
export async function train(model: Model, data: ImageSet, cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  validateConfig(cfg, data);
  const configHash = sha256(
    canonicalJson({
      cfg,
      seed: opts.seed,
      data: dataHash(data),
      model: model.config,
      start: weightsHash(model),
      ...(opts.hooksKey !== undefined ? { hooks: opts.hooksKey } : {}),
    }),
  );
  const optimizer = createOptimizer(cfg.optimizer);
  const lossFn = opts.loss ?? crossEntropy;
  const label = opts.label ?? `train ${model.config.arch}`;
  const rng = new Rng(opts.seed);
  const history: EpochRecord[] = [];
  let epochsDone = 0;

  try {
    const checkpoint = opts.checkpointDir ? new RunCheckpoint<TrainProgress>(opts.checkpointDir, configHash, { model, optimizer }, 'train') : null;
    const resumed = await checkpoint?.resume();
    if (resumed) {
      epochsDone = resumed.epochsDone;
      history.push(...resumed.history);
    }
    const resumedFrom = epochsDone;
    const n = data.shape[0];
    const batches = Math.ceil(n / cfg.batchSize);
    const names = [...model.params.keys()].filter((k) => opts.trainable?.(k) ?? true);
    if (names.length === 0) throw new Error(`${label}: the trainable filter leaves no parameter to train`);
    const vars = names.map((k) => model.params.get(k)!);
    const bar = new Progress(label, (cfg.epochs - epochsDone) * batches, opts.progress ?? consoleSink(), 'batch');

    while (epochsDone < cfg.epochs) {
      const epoch = epochsDone;
      const epochRng = rng.fork(`epoch-${epoch}`);
      const order = epochRng.fork('shuffle').permutation(n);
      const augRng = epochRng.fork('augment');
      const t0 = Date.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let lr = 0;
      const last = history.at(-1);
      const lastMetrics = last && last.testAcc !== null ? ` · after epoch ${last.epoch}: ${formatMetrics(last)}` : '';
      for (let b = 0; b < batches; b++) {
        const idx = order.subarray(b * cfg.batchSize, Math.min(n, (b + 1) * cfg.batchSize));
        lr = learningRate(cfg.schedule, cfg.optimizer.lr, epoch + b / batches, cfg.epochs);
        const ctx: BatchContext = { epoch, batch: b, indices: idx, rng: epochRng.fork(`batch-${b}`) };
        const { x, y } = nextBatch(model, data, idx, cfg, augRng, ctx, opts.prepareBatch);
        let hits: tf.Scalar | null = null;
        const { value, grads } = tf.variableGrads(() => {
          const { loss, logits } = lossFn(model, x, y, { epoch, batch: b });
          hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'int32')) as tf.Scalar);
          return loss;
        }, vars);
        const byName: Record<string, tf.Tensor> = {};
        names.forEach((k, i) => (byName[k] = grads[vars[i].name]));
        optimizer.step(model.params, byName, lr);
        model.commitState();
        opts.afterStep?.(model, ctx);
        const lossValue = (await value.data())[0];
        if (!Number.isFinite(lossValue)) {
          tf.dispose([x, y, value, hits!, ...Object.values(grads)]);
          throw new Error(`${label}: loss became ${lossValue} at epoch ${epoch + 1}, batch ${b + 1} (learning rate ${lr}); lower the learning rate`);
        }
        // A prepared batch may differ in size from the drawn one; the averages count what was trained on.
        lossSum += lossValue * x.shape[0];
        seen += x.shape[0];
        correct += (await (hits! as tf.Scalar).data())[0];
        tf.dispose([x, y, value, hits!, ...Object.values(grads)]);
        bar.tick(1, `epoch ${epoch + 1}/${cfg.epochs} loss ${(lossSum / seen).toFixed(3)}${lastMetrics}`);
      }
      // Training time only: the evaluation is bookkeeping, and would skew speed comparisons.
      const seconds = (Date.now() - t0) / 1000;
      const metrics = await opts.evaluate?.(model);
      history.push({
        epoch: epoch + 1,
        loss: lossSum / seen,
        trainAcc: correct / seen,
        testAcc: metrics?.testAcc ?? null,
        ...(metrics?.asr !== undefined ? { asr: metrics.asr } : {}),
        lr,
        seconds,
        ...(opts.summarizeEpoch ? { summary: opts.summarizeEpoch(epoch) } : {}),
      });
      epochsDone++;
      await opts.afterEpoch?.(model, epochsDone);
      await checkpoint?.save({ epochsDone, history });
      if (epochsDone < cfg.epochs && opts.shouldStop?.(epochsDone)) break;
    }
    return { history, epochsDone, resumedFrom, complete: epochsDone >= cfg.epochs };
  } finally {
    optimizer.dispose();
  }
}

/** The batch at `idx`, augmented, then passed through `prepare` (whose replacement, if any, supersedes it). */
function nextBatch(
  model: Model,
  data: ImageSet,
  idx: Int32Array,
  cfg: TrainConfig,
  augRng: Rng,
  ctx: BatchContext,
  prepare: TrainOptions['prepareBatch'],
): Batch {
  const [, h, w, c] = data.shape;
  const batch: Batch = {
    x: tf.tensor4d(makeBatch(data, idx, cfg.augment, augRng), [idx.length, h, w, c]),
    y: tf.tensor1d(
      Int32Array.from(idx, (i) => data.labels[i]),
      'int32',
    ),
  };
  if (!prepare) return batch;
  let replaced: Batch | void;
  try {
    replaced = prepare(model, batch, ctx);
  } catch (e) {
    tf.dispose([batch.x, batch.y]);
    throw e;
  }
  if (!replaced) return batch;
  if (replaced.x.shape[0] !== replaced.y.shape[0] || replaced.y.dtype !== 'int32') {
    tf.dispose([batch.x, batch.y, replaced.x, replaced.y]);
    throw new Error(
      `prepareBatch: expected images [N, ${h}, ${w}, ${c}] and int32 labels [N], got [${replaced.x.shape}] and ${replaced.y.dtype} [${replaced.y.shape}]`,
    );
  }
  for (const t of [batch.x, batch.y]) if (t !== replaced.x && t !== replaced.y) t.dispose();
  return replaced;
}
