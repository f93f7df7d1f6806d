import * as tf from '@tensorflow/tfjs-core';
import type { AttackDefinition } from './attack';
import { checkBatch, checkNumber, type InputShape, numberOption, validateInputShape } from './checks';
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

/** SIG in the attack catalogue (registered as 'sig' by all.ts). */
export const sigAttack: AttackDefinition = {
  defaults: { delta: 20 / 255, frequency: 6, cleanLabel: true, targetShare: 1 },
  provenance: {
    delta: 'the SIG paper’s training amplitude 20/255, also the reference code’s PBE path (its create_bd.py uses 10/255; BackdoorBench 40/255)',
    frequency: 'paper and reference code',
    cleanLabel: 'paper (clean-label); false relabels to the target as the reference code’s PBE path does (with delta 20/255, the default)',
    targetShare:
      'paper: clean-label at poison ratio 10%, which on a balanced 10-class set is the whole target class; below 1 caps the poisoned share of the target class so the model also sees clean images of it, as the SIG paper poisons a fraction of the class',
  },
  build: ({ rule, inputShape, options }) => {
    const cleanLabel = options.cleanLabel as boolean;
    const targetShare = numberOption(options, 'targetShare');
    if (cleanLabel && rule.mode !== 'all2one') {
      throw new Error(
        `sig.cleanLabel: a clean-label attack poisons the target class only, so it needs mode 'all2one' (got '${rule.mode}'); set cleanLabel false for all-to-all`,
      );
    }
    if (!(Number.isFinite(targetShare) && targetShare > 0 && targetShare <= 1))
      throw new Error(`sig.targetShare: expected a number in (0, 1], got ${targetShare}`);
    if (!cleanLabel && targetShare !== 1) {
      throw new Error(
        `sig.targetShare: applies to the clean-label attack only (it poisons the target class); with cleanLabel false the poison ratio alone sets the count, got targetShare ${targetShare}`,
      );
    }
    return {
      trigger: sigTrigger(inputShape, { delta: numberOption(options, 'delta'), frequency: numberOption(options, 'frequency') }),
      cleanLabel,
      ...(cleanLabel ? { targetShare } : {}),
      crossRatio: 0,
    };
  },
};
