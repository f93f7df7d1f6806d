import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../data/augment';
import type { Dataset } from '../data/dataset';
import type { Attackable } from '../attacks/adversarial/pgd';
import type { Model } from '../models/model';
import { Progress, type ProgressSink, silentSink } from '../progress';

/** What the analyses need of a model: PGD's needs plus eval-mode features. */
export type Classifier = Attackable & Pick<Model, 'forward'>;

export interface BatchOptions {
  batchSize: number;
  progress?: ProgressSink;
  /** the progress line's label */
  label?: string;
}

/**
 * Calls `fn` with the clean images at `indices`, batch by batch, as float32 [0, 1] tensors and
 * int32 true labels; both are disposed after `fn` returns, so `fn` owns only what it creates.
 * `start` is the batch's offset into `indices`, for naming per-batch random streams.
 */
export function forEachBatch(
  data: Dataset,
  indices: Int32Array,
  opts: BatchOptions,
  fn: (x: tf.Tensor4D, y: tf.Tensor1D, batch: { indices: Int32Array; start: number }) => void,
): void {
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) throw new Error(`batchSize: expected a positive integer, got ${opts.batchSize}`);
  const [, h, w, c] = data.shape;
  const bar = new Progress(opts.label ?? 'analysis', indices.length, opts.progress ?? silentSink, 'img');
  for (let start = 0; start < indices.length; start += opts.batchSize) {
    const idx = indices.subarray(start, Math.min(indices.length, start + opts.batchSize));
    const x = tf.tensor4d(makeBatch(data, idx), [idx.length, h, w, c]);
    const y = tf.tensor1d(
      Int32Array.from(idx, (i) => data.labels[i]),
      'int32',
    );
    try {
      fn(x, y, { indices: idx, start });
    } finally {
      tf.dispose([x, y]);
    }
    bar.tick(idx.length);
  }
}

/** Eval-mode logits and features of a batch, read back, nothing left on the backend. */
export function readForward(model: Pick<Model, 'forward'>, x: tf.Tensor4D): { predictions: Int32Array; features: Float32Array; featureSize: number } {
  const out = model.forward(x, { training: false });
  const pred = tf.argMax(out.logits, 1);
  try {
    return { predictions: pred.dataSync() as Int32Array, features: out.features.dataSync() as Float32Array, featureSize: out.features.shape[1] };
  } finally {
    tf.dispose([pred, out.logits, out.features, ...Object.values(out.activations)]);
  }
}

/** Eval-mode predicted labels of a batch. */
export function readPredictions(model: Pick<Model, 'predict'>, x: tf.Tensor4D): Int32Array {
  const pred = tf.tidy(() => tf.argMax(model.predict(x), 1));
  try {
    return pred.dataSync() as Int32Array;
  } finally {
    pred.dispose();
  }
}

/** 0, 1, …, n − 1 */
export function range(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}
