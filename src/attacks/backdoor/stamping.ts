import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../../data/dataset';
import type { TrainOptions } from '../../train/trainer';
import type { PoisonedSet, StampOrder, StaticAttack } from './attack';

/**
 * When a static attack's trigger is put on a poisoned training image, relative to the training
 * augmentation (random crop, flip, rotation):
 * - after-augment: each epoch the clean image is augmented and the trigger stamped on the result,
 *   so every poisoned sample the classifier sees carries the exact trigger;
 * - before-augment: the trigger is stamped once into the stored image, which is then augmented
 *   with the rest, so a crop can cut a corner patch and a flip mirrors it.
 */
export const STAMP_ORDERS: readonly StampOrder[] = ['after-augment', 'before-augment'];

export const DEFAULT_STAMP_ORDER: StampOrder = 'after-augment';
export const STAMP_ORDER_PROVENANCE =
  "the reference code's training scripts (and WaNet's and BackdoorBench's): augment first, then stamp the trigger on the augmented image";

/**
 * Pixel values in [0, 1] rounded to whole bytes (0…255, as float32 integers): what an image file
 * holds. Poisoned images are stored this way and stamped batches are rounded the same way, so a
 * poisoned sample is the same whichever order stamps it when there is no augmentation.
 */
export function toBytes(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.floor(tf.add(tf.mul(tf.clipByValue(x, 0, 1), 255), 0.5)) as tf.Tensor4D);
}

/** k/255 as float32, the value makeBatch gives byte k (the division is done in float64 there, then stored). */
const BYTE_VALUES = Float32Array.from({ length: 256 }, (_, k) => k / 255);

/** `x` rounded to the byte grid and read back as makeBatch reads stored bytes. */
export function asStored(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.gather(tf.tensor1d(BYTE_VALUES), tf.cast(toBytes(x), 'int32')) as tf.Tensor as tf.Tensor4D);
}

/** What the trainer trains an infected model on: the images and labels, and the per-batch stamping when the trigger comes after augmentation. */
export interface TrainingView {
  data: Dataset;
  prepareBatch?: TrainOptions['prepareBatch'];
}

const POISON = 1;
const CROSS = 2;

/**
 * The training data for `order`. Before augmentation: the poisoned set as stored. After: the
 * clean images under the poisoned labels, and a batch hook that stamps the trigger on each
 * augmented poisoned image (and warps WaNet's noise-mode images with fresh noise from the batch's
 * own stream, as WaNet's reference draws it per batch), rounded to the byte grid like the stored
 * and triggered test images.
 */
export function trainingView(clean: Dataset, poisoned: PoisonedSet, attack: StaticAttack, order: StampOrder): TrainingView {
  if (order === 'before-augment') return { data: poisoned.data };
  const n = clean.shape[0];
  if (poisoned.data.shape[0] !== n) throw new Error(`trainingView: ${n} clean images for a poisoned set of ${poisoned.data.shape[0]}`);
  const kind = new Uint8Array(n);
  for (const i of poisoned.stamped.poison) kind[i] = POISON;
  for (const i of poisoned.stamped.cross) kind[i] = CROSS;
  return {
    data: { ...poisoned.data, images: clean.images },
    prepareBatch: (_model, batch, ctx) => {
      const poisonRows: number[] = [];
      const crossRows: number[] = [];
      ctx.indices.forEach((i, row) => (kind[i] === POISON ? poisonRows : kind[i] === CROSS ? crossRows : null)?.push(row));
      if (poisonRows.length === 0 && crossRows.length === 0) return;
      const x = tf.tidy(() => {
        const size = ctx.indices.length;
        const from = Int32Array.from({ length: size }, (_, r) => r);
        const parts: tf.Tensor4D[] = [batch.x];
        let offset = size;
        const stamp = (which: number[], fn: (x: tf.Tensor4D) => tf.Tensor4D) => {
          if (which.length === 0) return;
          parts.push(asStored(fn(tf.gather(batch.x, which) as tf.Tensor4D)));
          which.forEach((r, k) => (from[r] = offset + k));
          offset += which.length;
        };
        stamp(poisonRows, (v) => attack.trigger.apply(v));
        stamp(crossRows, (v) => attack.applyCross!(v, ctx.rng.fork('cross-noise')));
        return tf.gather(tf.concat(parts), from) as tf.Tensor4D;
      });
      return { x, y: batch.y };
    },
  };
}
