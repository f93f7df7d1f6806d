import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { canonicalJson, sha256 } from '../cache';
import { type AugmentConfig, makeBatch } from '../data/augment';
import type { Dataset } from '../data/dataset';
import { loadTensors, saveTensors } from '../io/checkpoint';
import type { Model } from '../models/model';
import { consoleSink, Progress, type ProgressSink } from '../progress';
import { Rng, type Seed } from '../rng';
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
}

/** The loss of one batch; the default is softmax cross-entropy on the model's training-mode logits. */
export type BatchLoss = (model: Model, x: tf.Tensor4D, y: tf.Tensor1D, step: { epoch: number; batch: number }) => {
  loss: tf.Scalar;
  logits: tf.Tensor2D;
};

/** What is measured on held-out data after every epoch. */
export interface EpochMetrics {
  testAcc: number;
  asr?: number;
}

export interface TrainOptions {
  seed: Seed;
  /** Called after every epoch when given; its numbers go into the history and the progress line. */
  evaluate?: (model: Model) => EpochMetrics;
  /** Folder for the per-epoch checkpoint; a run started again with the same folder resumes. */
  checkpointDir?: string;
  progress?: ProgressSink;
  label?: string;
  loss?: BatchLoss;
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

function validateConfig(cfg: TrainConfig, data: Dataset): void {
  if (!Number.isInteger(cfg.epochs) || cfg.epochs < 0) throw new Error(`train.epochs: expected an integer ≥ 0, got ${cfg.epochs}`);
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1) throw new Error(`train.batchSize: expected an integer ≥ 1, got ${cfg.batchSize}`);
  if (data.shape[0] === 0) throw new Error(`train: dataset ${data.name}/${data.split} is empty`);
}

/** Predicted labels, eval mode, in batches. */
export function predictLabels(model: Model, ds: Dataset, batchSize = 256, limit = ds.shape[0]): Int32Array {
  const n = Math.min(limit, ds.shape[0]);
  const out = new Int32Array(n);
  const [, h, w, c] = ds.shape;
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const pred = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(makeBatch(ds, idx), [idx.length, h, w, c])), 1));
    out.set(pred.dataSync() as Int32Array, start);
    pred.dispose();
  }
  return out;
}

function formatMetrics(r: EpochRecord): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  return `test acc ${pct(r.testAcc!)}${r.asr !== undefined ? ` ASR ${pct(r.asr)}` : ''}`;
}

export function accuracy(model: Model, ds: Dataset, batchSize = 256): number {
  const pred = predictLabels(model, ds, batchSize);
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === ds.labels[i]) ok++;
  return pred.length > 0 ? ok / pred.length : 0;
}

interface CheckpointMeta {
  configHash: string;
  epochsDone: number;
  history: EpochRecord[];
}

const OPT_PREFIX = 'optimizer/';
const MODEL_PREFIX = 'model/';

async function saveCheckpoint(dir: string, model: Model, slots: { name: string; tensor: tf.Tensor }[], meta: CheckpointMeta): Promise<void> {
  await saveTensors(
    dir,
    [
      ...model.namedWeights().map(({ name, tensor }) => ({ name: MODEL_PREFIX + name, tensor })),
      ...slots.map(({ name, tensor }) => ({ name: OPT_PREFIX + name, tensor })),
    ],
    meta as unknown as Record<string, {}>,
  );
}

/**
 * Trains `model` in place with mini-batch SGD/Adam, augmentation done per batch, an optional
 * clean-accuracy evaluation and a checkpoint after every epoch. The shuffling and augmentation of
 * epoch e come from the stream `seed/epoch-e`, so a run resumed from a checkpoint continues with
 * exactly the numbers an uninterrupted run would have drawn.
 */
export async function train(model: Model, data: Dataset, cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  validateConfig(cfg, data);
  // The data's content, not its name: subsets of one dataset share name and source.
  const dataHash = createHash('sha256').update(data.images).update(new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength)).digest('hex');
  const configHash = sha256(canonicalJson({ cfg, seed: opts.seed, data: dataHash, model: model.config }));
  const optimizer = createOptimizer(cfg.optimizer);
  const lossFn = opts.loss ?? crossEntropy;
  const label = opts.label ?? `train ${model.config.arch}`;
  const rng = new Rng(opts.seed);
  const history: EpochRecord[] = [];
  let epochsDone = 0;

  try {
    if (opts.checkpointDir && fs.existsSync(opts.checkpointDir)) {
      const resumed = await tryResume(opts.checkpointDir, configHash, model, optimizer);
      if (resumed) {
        epochsDone = resumed.epochsDone;
        history.push(...resumed.history);
      }
    }
    const resumedFrom = epochsDone;
    const n = data.shape[0];
    const [, h, w, c] = data.shape;
    const batches = Math.ceil(n / cfg.batchSize);
    const names = [...model.params.keys()];
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
      let lr = 0;
      const last = history.at(-1);
      const lastMetrics = last && last.testAcc !== null ? ` · after epoch ${last.epoch}: ${formatMetrics(last)}` : '';
      for (let b = 0; b < batches; b++) {
        const idx = order.subarray(b * cfg.batchSize, Math.min(n, (b + 1) * cfg.batchSize));
        lr = learningRate(cfg.schedule, cfg.optimizer.lr, epoch + b / batches, cfg.epochs);
        const x = tf.tensor4d(makeBatch(data, idx, cfg.augment, augRng), [idx.length, h, w, c]);
        const y = tf.tensor1d(Int32Array.from(idx, (i) => data.labels[i]), 'int32');
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
        const lossValue = value.dataSync()[0];
        if (!Number.isFinite(lossValue)) {
          tf.dispose([x, y, value, hits!, ...Object.values(grads)]);
          throw new Error(`${label}: loss became ${lossValue} at epoch ${epoch + 1}, batch ${b + 1} (learning rate ${lr}); lower the learning rate`);
        }
        lossSum += lossValue * idx.length;
        correct += (hits! as tf.Scalar).dataSync()[0];
        tf.dispose([x, y, value, hits!, ...Object.values(grads)]);
        bar.tick(1, `epoch ${epoch + 1}/${cfg.epochs} loss ${(lossSum / Math.min(n, (b + 1) * cfg.batchSize)).toFixed(3)}${lastMetrics}`);
      }
      // Training time only: the evaluation is bookkeeping, and would skew speed comparisons.
      const seconds = (Date.now() - t0) / 1000;
      const metrics = opts.evaluate?.(model);
      history.push({
        epoch: epoch + 1,
        loss: lossSum / n,
        trainAcc: correct / n,
        testAcc: metrics?.testAcc ?? null,
        ...(metrics?.asr !== undefined ? { asr: metrics.asr } : {}),
        lr,
        seconds,
      });
      epochsDone++;
      if (opts.checkpointDir) await saveCheckpoint(opts.checkpointDir, model, optimizer.slots(), { configHash, epochsDone, history });
      if (epochsDone < cfg.epochs && opts.shouldStop?.(epochsDone)) break;
    }
    return { history, epochsDone, resumedFrom, complete: epochsDone >= cfg.epochs };
  } finally {
    optimizer.dispose();
  }
}

async function tryResume(
  dir: string,
  configHash: string,
  model: Model,
  optimizer: ReturnType<typeof createOptimizer>,
): Promise<CheckpointMeta | null> {
  let loaded;
  try {
    loaded = await loadTensors(dir);
  } catch (e) {
    process.stderr.write(`train: ignoring the checkpoint in ${dir}: ${(e as Error).message}\n`);
    return null;
  }
  const meta = loaded.metadata as unknown as CheckpointMeta;
  if (meta.configHash !== configHash) {
    process.stderr.write(`train: the checkpoint in ${dir} belongs to another configuration; starting afresh\n`);
    tf.dispose(Object.values(loaded.tensors));
    return null;
  }
  const weights: Record<string, tf.Tensor> = {};
  const slots: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(loaded.tensors)) {
    if (name.startsWith(MODEL_PREFIX)) weights[name.slice(MODEL_PREFIX.length)] = t;
    else if (name.startsWith(OPT_PREFIX)) slots[name.slice(OPT_PREFIX.length)] = t;
    else t.dispose();
  }
  model.loadWeights(weights);
  tf.dispose(Object.values(weights));
  optimizer.loadSlots(slots);
  return meta;
}

