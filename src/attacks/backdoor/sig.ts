import * as tf from '@tensorflow/tfjs-core';
import { checkBatch, checkNumber, type InputShape, validateInputShape } from './checks';
import type { Trigger } from './trigger';

export interface SigOptions {
  /** amplitude Δ of the sinusoid, in [0, 1] pixel units */
  delta: number;
  /** number of periods f across the image width */
  frequency: number;
}

/**
 * SIG (Barni et al. 2019): x' = clip(x + v, 0, 1) with the horizontal sinusoid
 * v(i, j) = Δ·sin(2π·j·f / m), j the column, m the image width, the same in every row and channel.
 * Whether the attack is clean-label is decided by the poisoning, not by the trigger.
 */
export function sigTrigger(inputShape: readonly number[], opts: SigOptions): Trigger {
  const shape = validateInputShape(inputShape, 'sig');
  checkNumber('sig.delta', opts.delta, 0, 1);
  checkNumber('sig.frequency', opts.frequency, 0, Infinity);
  const v = sinusoid(shape, opts);
  const w = shape[1];
  return {
    name: 'sig',
    apply(x) {
      checkBatch('sig', shape, x);
      return tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor4d(v, [1, 1, w, 1])), 0, 1) as tf.Tensor4D);
    },
    // The sinusoid is a JS array, uploaded per call: nothing to free.
    dispose() {},
  };
}

/** v(j) for each column j, shaped to broadcast over rows and channels. */
export function sinusoid([, m]: InputShape, opts: SigOptions): Float32Array {
  return Float32Array.from({ length: m }, (_, j) => opts.delta * Math.sin((2 * Math.PI * j * opts.frequency) / m));
}
