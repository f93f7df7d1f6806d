import * as tf from '@tensorflow/tfjs-core';
import { pgd, type PgdConfig, validatePgd } from '../attacks/adversarial/pgd';
import { makeBatch } from '../data/augment';
import type { Dataset } from '../data/dataset';
import { type LinearTrainConfig, linearLogits, linearSoftmax, trainLinearSoftmax } from '../models/linear-softmax';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { Rng } from '../rng';

/**
 * Theorem 1 on a linear softmax classifier with an additive all-to-one trigger xᵗ = x + P.
 *
 * Our reading of the statement (its supplement, with ℓ and the exact assumptions, is not
 * available):
 * - The left-hand side is the share of the adversarial perturbation's norm that lies along P,
 *   |⟨r, P⟩| / (|r||P|): the bound grows from 0 (weak trigger) to (√2−1)/√((√2−1)² + 1) ≈ 0.383
 *   (strong trigger), which only makes sense as a lower bound on alignment with P — the paper's
 *   claim is that r has a large component along P.
 * - ℓ|P|² is added to √2K/(exp(τ)+K), a pure number (a softmax mass), so it is a logit
 *   difference. For a linear model the logit difference that the trigger alone creates is
 *   ⟨w_l − w_c, P⟩; we read ℓ as its smallest value per unit |P|²:
 *       ℓ = min_{c ≠ l} ⟨w_l − w_c, P⟩ / |P|²,
 *   the trigger's guaranteed logit gain of the target over every other class. It is positive
 *   exactly when adding P raises the target above every class, which is what the backdoor
 *   teaches; a Lipschitz-type constant of the logit gaps along P.
 * - τ is the margin of the backdoor: we take the median, over the measured images, of the
 *   triggered logit margin z_l(x + P) − max_{c ≠ l} z_c(x + P).
 * r is measured, not derived: untargeted PGD (L2 by default) against the model, from clean test
 * images not of the target class, exactly as in the rest of the lab (images kept in [0, 1]).
 */
export const ELL_READING =
  'ℓ = min over c ≠ l of ⟨w_l − w_c, P⟩ / |P|² (the trigger’s smallest logit gain of the target, per unit |P|²); τ = median triggered margin z_l(x+P) − max_{c≠l} z_c(x+P)';

/** The theorem's lower bound on |r∥|/|r|; a negative value (ℓ ≤ 0: no backdoor) says nothing and is returned as 0. */
export function theorem1Bound(ell: number, normP: number, numClasses: number, tau: number): number {
  const a = (Math.SQRT2 - 1) * ell * normP * normP;
  const c = (Math.SQRT2 * numClasses) / (Math.exp(tau) + numClasses);
  const value = a / Math.sqrt(a * a + (ell * normP * normP + c) ** 2);
  return Number.isFinite(value) ? Math.max(0, value) : 0;
}

/** |⟨r, u⟩| / (|r||u|): the share of r's norm along u; 0 for a zero vector. */
export function alongShare(r: ArrayLike<number>, u: ArrayLike<number>): number {
  let dot = 0;
  let rr = 0;
  let uu = 0;
  for (let j = 0; j < r.length; j++) {
    dot += r[j] * u[j];
    rr += r[j] * r[j];
    uu += u[j] * u[j];
  }
  return rr > 0 && uu > 0 ? Math.abs(dot) / Math.sqrt(rr * uu) : 0;
}

export type TriggerPattern = 'noise' | 'patch';

export interface Theorem1Options {
  /** trigger norms |P| to train an infected model for */
  strengths: readonly number[];
  /** 'noise': seeded uniform [0, 1) noise over the whole image (Blend-like); 'patch': a square of ones in the bottom-right corner (BadNets-like) */
  pattern: TriggerPattern;
  /** side of the patch (pattern 'patch') */
  patchSize?: number;
  target: number;
  poisonRatio?: number;
  train?: LinearTrainConfig;
  /** the untargeted attack whose perturbations are measured */
  attack?: PgdConfig;
  /** every random choice: the noise pattern, the poisoned images, batch orders, the random directions */
  rng: Rng;
}

export const THEOREM1_TRAIN: LinearTrainConfig = { epochs: 15, batchSize: 50, lr: 0.1, weightDecay: 1e-4 };
/** L2, ε 2 (MNIST digits have norm about 9), 10 steps of 2.5ε/10 */
export const THEOREM1_ATTACK: PgdConfig = { norm: 'l2', eps: 2, step: 0.5, iterations: 10, randomStart: false, targeted: false };

export interface ModelMeasurement {
  /** mean over images of |⟨r, P⟩| / (|r||P|) */
  alongTrigger: number;
  /** the per-image values behind it */
  perImage: Float64Array;
  /** mean over images of |⟨r, g⟩| / (|r||g|), g a fresh Gaussian direction per image */
  alongRandom: number;
  /** adversarial examples no longer predicted as their true label */
  fooled: number;
  /** clean accuracy on all given test images */
  acc: number;
}

export interface Theorem1Row {
  strength: number;
  infected: ModelMeasurement & {
    asr: number;
    ell: number;
    tau: number;
    bound: number;
    /** fraction of images whose |r∥|/|r| reaches the bound (1 if the bound holds under our reading) */
    aboveBound: number;
  };
  benign: ModelMeasurement;
}

export interface Theorem1Result {
  rows: Theorem1Row[];
  pattern: TriggerPattern;
  /** input dimension d: a random direction's expected share is about √(2/(πd)) */
  dims: number;
  numClasses: number;
  target: number;
  /** images measured (test images outside the target class) */
  measured: number;
  reading: string;
}

/**
 * Trains one benign and, per trigger strength, one infected linear softmax classifier on the
 * flattened images (float64, JS), then measures how its untargeted adversarial perturbations
 * align with the trigger. The poisoned images are x + P without clipping, so the trigger is
 * exactly additive as the theorem assumes.
 */
export function theorem1Experiment(train: Dataset, test: Dataset, opts: Theorem1Options): Theorem1Result {
  const k = train.classNames.length;
  const [, h, w, c] = train.shape;
  const d = h * w * c;
  const cfg = opts.train ?? THEOREM1_TRAIN;
  const attack = opts.attack ?? THEOREM1_ATTACK;
  const ratio = opts.poisonRatio ?? 0.1;
  validatePgd(attack);
  if (attack.targeted) throw new Error('theorem1: the perturbations are untargeted; got attack.targeted = true');
  if (!(Number.isInteger(opts.target) && opts.target >= 0 && opts.target < k))
    throw new Error(`theorem1.target: expected an integer in [0, ${k - 1}], got ${opts.target}`);
  if (opts.strengths.length === 0 || !opts.strengths.every((s) => Number.isFinite(s) && s > 0)) {
    throw new Error(`theorem1.strengths: expected positive trigger norms, got [${opts.strengths.join(', ')}]`);
  }
  if (!(ratio > 0 && ratio < 1)) throw new Error(`theorem1.poisonRatio: expected a number in (0, 1), got ${ratio}`);

  const direction = triggerDirection(opts.pattern, [h, w, c], opts.patchSize ?? 4, opts.rng.fork('pattern'));
  const xTrain = Float64Array.from(
    makeBatch(
      train,
      Int32Array.from({ length: train.shape[0] }, (_, i) => i),
    ),
  );
  const xTest = makeBatch(
    test,
    Int32Array.from({ length: test.shape[0] }, (_, i) => i),
  );
  const candidates = indicesWhere(train.labels, (y) => y !== opts.target);
  const poisoned = opts.rng
    .fork('poison')
    .sample(candidates.length, Math.round(ratio * train.shape[0]))
    .map((j) => candidates[j]);
  if (poisoned.length === 0) throw new Error(`theorem1.poisonRatio ${ratio}: poisons no image of ${train.shape[0]}`);
  const measuredIdx = indicesWhere(test.labels, (y) => y !== opts.target);
  if (measuredIdx.length === 0) throw new Error(`theorem1: the test set has no image outside the target class ${opts.target}`);

  const randomRng = opts.rng.fork('random-directions');
  const randomDirs = Array.from(measuredIdx, () => randomRng.normalArray(d));
  const measure = (weights: Float64Array, bias: Float64Array) =>
    measurePerturbations(weights, bias, [h, w, c], test, xTest, measuredIdx, direction, randomDirs, attack);

  const benignModel = trainLinearSoftmax(xTrain, train.labels, k, cfg, opts.rng.fork('train-benign'));
  const benign = measure(benignModel.weights, benignModel.bias);

  const rows = opts.strengths.map((strength): Theorem1Row => {
    const x = xTrain.slice();
    const labels = train.labels.slice();
    for (const i of poisoned) {
      for (let j = 0; j < d; j++) x[i * d + j] += strength * direction[j];
      labels[i] = opts.target;
    }
    const model = trainLinearSoftmax(x, labels, k, cfg, opts.rng.fork(`train-${strength}`));
    const { ell, tau, asr } = backdoorConstants(model.weights, model.bias, xTest, measuredIdx, direction, strength, opts.target, d, k);
    const measured = measure(model.weights, model.bias);
    const bound = theorem1Bound(ell, strength, k, tau);
    const aboveBound = measured.perImage.reduce((a, v) => a + (v >= bound ? 1 : 0), 0) / measured.perImage.length;
    return { strength, infected: { ...measured, asr, ell, tau, bound, aboveBound }, benign };
  });
  return { rows, pattern: opts.pattern, dims: d, numClasses: k, target: opts.target, measured: measuredIdx.length, reading: ELL_READING };
}

/** The unit trigger direction P/|P|. */
function triggerDirection(pattern: TriggerPattern, [h, w, c]: [number, number, number], patchSize: number, rng: Rng): Float64Array {
  const u = new Float64Array(h * w * c);
  if (pattern === 'noise') {
    for (let j = 0; j < u.length; j++) u[j] = rng.float();
  } else if (pattern === 'patch') {
    if (!(Number.isInteger(patchSize) && patchSize >= 1 && patchSize <= Math.min(h, w))) {
      throw new Error(`theorem1.patchSize: expected an integer in [1, ${Math.min(h, w)}], got ${patchSize}`);
    }
    for (let y = h - patchSize; y < h; y++) for (let x = w - patchSize; x < w; x++) for (let ch = 0; ch < c; ch++) u[(y * w + x) * c + ch] = 1;
  } else {
    throw new Error(`theorem1.pattern: expected 'noise' or 'patch', got '${pattern as string}'`);
  }
  const norm = Math.sqrt(u.reduce((a, v) => a + v * v, 0));
  return u.map((v) => v / norm);
}

function measurePerturbations(
  weights: Float64Array,
  bias: Float64Array,
  inputShape: [number, number, number],
  test: Dataset,
  xTest: Float32Array,
  measured: Int32Array,
  direction: Float64Array,
  randomDirs: Float32Array[],
  attack: PgdConfig,
): ModelMeasurement {
  const d = direction.length;
  const n = test.shape[0];
  const model = linearSoftmax(weights, bias, inputShape);
  try {
    const { r, cleanPred, advPred } = tf.tidy(() => {
      const x = tf.tensor4d(xTest, [n, ...inputShape]);
      const y = tf.tensor1d(test.labels, 'int32');
      const adv = pgd(model, x, y, attack);
      return {
        r: tf.sub(adv, x).dataSync() as Float32Array,
        cleanPred: tf.argMax(model.predict(x), 1).dataSync() as Int32Array,
        advPred: tf.argMax(model.predict(adv), 1).dataSync() as Int32Array,
      };
    });
    const perImage = new Float64Array(measured.length);
    let random = 0;
    let fooled = 0;
    measured.forEach((i, q) => {
      const ri = r.subarray(i * d, (i + 1) * d);
      perImage[q] = alongShare(ri, direction);
      random += alongShare(ri, randomDirs[q]);
      if (advPred[i] !== test.labels[i]) fooled++;
    });
    let correct = 0;
    for (let i = 0; i < n; i++) if (cleanPred[i] === test.labels[i]) correct++;
    const m = measured.length;
    return { alongTrigger: perImage.reduce((a, v) => a + v, 0) / m, perImage, alongRandom: random / m, fooled: fooled / m, acc: correct / n };
  } finally {
    model.dispose();
  }
}

/** ℓ, τ (our reading, see ELL_READING) and the attack success rate of x + P, in float64. */
function backdoorConstants(
  w: Float64Array,
  b: Float64Array,
  xTest: Float32Array,
  measured: Int32Array,
  direction: Float64Array,
  strength: number,
  target: number,
  d: number,
  k: number,
): { ell: number; tau: number; asr: number } {
  // ⟨w_l − w_c, P⟩ = strength · ⟨w_l − w_c, u⟩
  const gain = new Float64Array(k);
  for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) gain[c] += strength * direction[j] * (w[j * k + target] - w[j * k + c]);
  let ell = Infinity;
  for (let c = 0; c < k; c++) if (c !== target) ell = Math.min(ell, gain[c] / (strength * strength));
  const margins: number[] = [];
  const triggered = new Float64Array(d);
  const z = new Float64Array(k);
  let hits = 0;
  for (const i of measured) {
    for (let j = 0; j < d; j++) triggered[j] = xTest[i * d + j] + strength * direction[j];
    linearLogits(triggered, 0, d, w, b, z);
    let other = -Infinity;
    for (let c = 0; c < k; c++) if (c !== target) other = Math.max(other, z[c]);
    margins.push(z[target] - other);
    if (z[target] > other) hits++;
  }
  margins.sort((a, c) => a - c);
  const mid = margins.length >> 1;
  const tau = margins.length % 2 === 1 ? margins[mid] : (margins[mid - 1] + margins[mid]) / 2;
  return { ell, tau, asr: hits / measured.length };
}

function indicesWhere(labels: Int32Array, keep: (y: number) => boolean): Int32Array {
  const out: number[] = [];
  labels.forEach((y, i) => keep(y) && out.push(i));
  return Int32Array.from(out);
}

/** Measured shares and the bound against the trigger norm |P| (log axis). */
export function theorem1Spec(result: Theorem1Result): VegaLiteSpec {
  const series = ['infected: along P', 'infected: along a random direction', 'benign: along P', 'Theorem 1 bound (our reading of ℓ, τ)'];
  const values = result.rows.flatMap((r) =>
    [r.infected.alongTrigger, r.infected.alongRandom, r.benign.alongTrigger, r.infected.bound].map((share, j) => ({
      strength: r.strength,
      series: series[j],
      share,
      asr: r.infected.asr,
    })),
  );
  return vegaLite({
    title: {
      text: 'Theorem 1: adversarial perturbations of a linear softmax classifier point along the trigger',
      subtitle: [
        `|⟨r, P⟩| / (|r||P|), mean over ${result.measured} test images; ${result.pattern} trigger, d = ${result.dims}, K = ${result.numClasses}, target ${result.target}`,
        'bound with our reading: ℓ = min_{c≠l} ⟨w_l − w_c, P⟩ / |P|², τ = median triggered margin',
      ],
    },
    data: { values },
    mark: { type: 'line', point: true },
    width: 420,
    height: 260,
    encoding: {
      x: { field: 'strength', type: 'quantitative', scale: { type: 'log' }, title: 'trigger norm |P|' },
      y: { field: 'share', type: 'quantitative', scale: { domain: [0, 1] }, title: 'share of |r| along the direction' },
      color: {
        field: 'series',
        type: 'nominal',
        sort: series,
        title: null,
        scale: { range: ['#e45756', '#bab0ac', '#4c78a8', '#000000'] },
        legend: { labelLimit: 300 },
      },
      strokeDash: {
        field: 'series',
        type: 'nominal',
        sort: series,
        legend: null,
        scale: {
          range: [
            [1, 0],
            [1, 0],
            [1, 0],
            [4, 3],
          ],
        },
      },
      tooltip: [{ field: 'series' }, { field: 'strength' }, { field: 'share', format: '.3f' }, { field: 'asr', title: 'ASR (infected)', format: '.3f' }],
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}
