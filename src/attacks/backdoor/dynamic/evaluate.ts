import * as tf from '@tensorflow/tfjs-core';
import { makeBatch, NO_AUGMENT } from '../../../data/augment';
import type { Dataset } from '../../../data/dataset';
import type { Model } from '../../../models/model';
import { Rng, type Seed } from '../../../rng';
import { accuracy } from '../../../train/trainer';
import { type LabelRule, targetLabel } from '../trigger';
import type { DynamicTrigger } from './trigger';

export interface DynamicEvaluation {
  /** clean test accuracy */
  acc: number;
  /** triggered test images (true label ≠ target, for all-to-one) predicted as their target */
  asr: number;
  /** images carrying another image's trigger, predicted as their true label */
  crossAcc: number;
  /** the same cross-triggered images (true label ≠ target, for all-to-one) predicted as the target */
  crossAsr: number;
}

/**
 * Clean accuracy, attack success rate and the cross-trigger test on `test`. Each image's donor
 * (for the cross trigger) is its successor in a permutation drawn from `seed`, never itself.
 */
export async function evaluateDynamic(
  model: Model,
  trigger: DynamicTrigger,
  test: Dataset,
  rule: LabelRule,
  seed: Seed,
  batchSize = 256,
): Promise<DynamicEvaluation> {
  const n = test.shape[0];
  const [, h, w, c] = test.shape;
  const order = new Rng(seed).fork('cross-donors').permutation(n);
  const donorOf = new Int32Array(n);
  for (let j = 0; j < n; j++) donorOf[order[j]] = order[(j + 1) % n];
  let attacked = 0;
  let asrHits = 0;
  let crossHits = 0;
  let crossAsrHits = 0;
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const shape: [number, number, number, number] = [idx.length, h, w, c];
    const [own, cross] = tf.tidy(() => {
      const x = tf.tensor4d(makeBatch(test, idx, NO_AUGMENT), shape);
      const donors = tf.tensor4d(
        makeBatch(
          test,
          Array.from(idx, (i) => donorOf[i]),
          NO_AUGMENT,
        ),
        shape,
      );
      return [tf.argMax(model.predict(trigger.apply(x)), 1), tf.argMax(model.predict(trigger.applyFrom(x, donors)), 1)];
    });
    const ownPred = await own.data();
    const crossPred = await cross.data();
    tf.dispose([own, cross]);
    idx.forEach((i, j) => {
      const y = test.labels[i];
      const t = targetLabel(rule, y);
      if (crossPred[j] === y) crossHits++;
      if (t === y) return;
      attacked++;
      if (ownPred[j] === t) asrHits++;
      if (crossPred[j] === t) crossAsrHits++;
    });
  }
  return {
    acc: await accuracy(model, test, batchSize),
    asr: attacked > 0 ? asrHits / attacked : 0,
    crossAcc: n > 0 ? crossHits / n : 0,
    crossAsr: attacked > 0 ? crossAsrHits / attacked : 0,
  };
}
