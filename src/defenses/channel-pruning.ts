import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../data/augment';
import type { Dataset } from '../data/dataset';
import type { Model } from '../models/model';

/**
 * The pruning half of Fine-Pruning (Liu, Dolan-Gavitt & Garg, RAID 2018, §4): the channels of the
 * last convolutional layer are ranked by their mean activation on clean data, and the least
 * active ones are pruned first, since a backdoor tends to live in neurons that clean inputs leave
 * dormant.
 */

/** Mean activation of every channel of `activation` over the images and positions of `data` (eval mode). */
export function meanChannelActivation(model: Model, data: Dataset, activation: string, batchSize = 256): Float64Array {
  const n = data.shape[0];
  if (n === 0) throw new Error(`channel ranking: ${data.name}/${data.split} is empty`);
  const [, h, w, c] = data.shape;
  let sums: Float64Array | null = null;
  let positions = 0;
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const channelSums = tf.tidy(() => {
      const x = tf.tensor4d(makeBatch(data, idx), [idx.length, h, w, c]);
      const a = model.forward(x, { training: false, collect: [activation] }).activations[activation];
      positions += a.shape[0] * a.shape[1] * a.shape[2];
      return tf.sum(a, [0, 1, 2]);
    });
    const v = channelSums.dataSync();
    channelSums.dispose();
    sums ??= new Float64Array(v.length);
    for (let k = 0; k < v.length; k++) sums[k] += v[k];
  }
  return sums!.map((s) => s / positions);
}

/** Channel indices from least to most active; equal activations keep channel order. */
export function pruningOrder(meanActivation: ArrayLike<number>): Int32Array {
  return Int32Array.from(
    Array.from(meanActivation, (v, k) => ({ v, k })).sort((a, b) => a.v - b.v || a.k - b.k),
    ({ k }) => k,
  );
}

/** A parameter whose slices along `axis` belong to the channels of the pruned activation. */
export interface PruneTarget {
  param: string;
  axis: number;
}

/**
 * In the residual networks the last stage's output adds the block's input to the last
 * convolution's, so zeroing that convolution leaves a pruned channel alive through the
 * shortcut. There the classifier, which reads the channels through a global average pool, loses
 * the rows of pruned channels as well (BackdoorBench removes the channel from both).
 */
const CLASSIFIER_OF_RESIDUAL: Partial<Record<Model['config']['arch'], string>> = {
  'preact-resnet18': 'linear.weight',
  resnet18: 'fc.weight',
};

/**
 * What pruning a channel of `model.lastConv` zeroes: the convolution's output filter, the batch
 * norm's γ and β right after it (a zeroed filter would still emit β), and for residual networks
 * the classifier's input row.
 */
export function lastConvTargets(model: Model): PruneTarget[] {
  const { weight, batchNorm } = model.lastConv;
  const targets: PruneTarget[] = [{ param: weight, axis: 3 }];
  if (batchNorm) targets.push({ param: `${batchNorm}.gamma`, axis: 0 }, { param: `${batchNorm}.beta`, axis: 0 });
  const classifier = CLASSIFIER_OF_RESIDUAL[model.config.arch];
  if (classifier) targets.push({ param: classifier, axis: 0 });
  for (const t of targets) {
    if (!model.params.has(t.param)) throw new Error(`fine-pruning: ${model.config.arch} has no parameter '${t.param}'`);
  }
  return targets;
}

/** A 0/1 keep-vector over channels: 0 for the pruned ones. */
export function keepMask(channels: number, pruned: ArrayLike<number>): Float32Array {
  const keep = new Float32Array(channels).fill(1);
  for (let i = 0; i < pruned.length; i++) {
    const c = pruned[i];
    if (!(Number.isInteger(c) && c >= 0 && c < channels)) throw new Error(`pruning: channel ${c} is outside [0, ${channels})`);
    keep[c] = 0;
  }
  return keep;
}

/** Multiplies each target's slices by `keep` in place: pruned channels become exactly zero. */
export function applyChannelMask(model: Model, targets: readonly PruneTarget[], keep: Float32Array): void {
  tf.tidy(() => {
    for (const { param, axis } of targets) {
      const v = model.params.get(param)!;
      if (v.shape[axis] !== keep.length) {
        throw new Error(`pruning: '${param}' has ${v.shape[axis]} channels on axis ${axis}, the mask ${keep.length}`);
      }
      const shape = v.shape.map((d, i) => (i === axis ? d : 1));
      v.assign(tf.mul(v, tf.tensor(keep, shape)));
    }
  });
}
