import * as tf from '@tensorflow/tfjs-core';
import type { AttackDefinition } from './attack';
import { checkBatch, checkNumber, type InputShape, numberOption, validateInputShape } from './checks';
import type { Trigger } from './trigger';

export interface BadNetsOptions {
  /** side of the square patch in pixels; 3 in the paper and the reference code */
  patchSize: number;
}

/**
 * The patch value at row r, column c of the patch (0-based from its top-left pixel): a
 * checkerboard of 1s and 0s with 1 at the top-left, the same in every channel. For 3×3:
 *
 *     1 0 1
 *     0 1 0
 *     1 0 1
 *
 * (The reference code's patch has 0 at its top-left pixel and is otherwise this checkerboard.)
 */
export function checkerboardValue(r: number, c: number): number {
  return (r + c) % 2 === 0 ? 1 : 0;
}

/**
 * BadNets (Gu et al. 2017): the bottom-right patchSize × patchSize pixels are replaced by the
 * checkerboard; every other pixel is left exactly as it was.
 */
export function badnetsTrigger(inputShape: readonly number[], opts: BadNetsOptions): Trigger {
  const shape = validateInputShape(inputShape, 'badnets');
  const [h, w, c] = shape;
  checkNumber('badnets.patchSize', opts.patchSize, 1, Math.min(h, w), { integer: true });
  const { mask, pattern } = patchArrays(shape, opts.patchSize);
  return {
    name: 'badnets',
    apply(x) {
      checkBatch('badnets', shape, x);
      // x·(1 − m) + p·m is exact in floating point for m ∈ {0, 1}: outside the patch x·1 + 0.
      return tf.tidy(() => {
        const m = tf.tensor4d(mask, [1, h, w, c]);
        return tf.add(tf.mul(x, tf.sub(1, m)), tf.tensor4d(pattern, [1, h, w, c])) as tf.Tensor4D;
      });
    },
    // The patch lives in JS arrays and becomes a tensor only inside apply: nothing to free.
    dispose() {},
  };
}

function patchArrays([h, w, c]: InputShape, size: number): { mask: Float32Array; pattern: Float32Array } {
  const mask = new Float32Array(h * w * c);
  const pattern = new Float32Array(h * w * c);
  for (let r = 0; r < size; r++) {
    for (let col = 0; col < size; col++) {
      const base = ((h - size + r) * w + (w - size + col)) * c;
      for (let k = 0; k < c; k++) {
        mask[base + k] = 1;
        pattern[base + k] = checkerboardValue(r, col);
      }
    }
  }
  return { mask, pattern };
}

/** BadNets in the attack catalogue (registered as 'badnets' by all.ts). */
export const badnetsAttack: AttackDefinition = {
  defaults: { patchSize: 3 },
  provenance: { patchSize: 'paper and reference code: a 3×3 checkerboard in the bottom-right corner' },
  build: ({ inputShape, options }) => ({
    trigger: badnetsTrigger(inputShape, { patchSize: numberOption(options, 'patchSize') }),
    cleanLabel: false,
    crossRatio: 0,
  }),
};
