import * as tf from '@tensorflow/tfjs-core';
import type { Model, ModelConfig } from '../../models/model';
import { REFERENCE_PGD } from '../../paper/numbers';
import type { Rng } from '../../rng';

export type Norm = 'linf' | 'l2';

/** What PGD needs of a model: its class count and differentiable eval-mode logits (a linear classifier qualifies). */
export type Attackable = Pick<Model, 'predict'> & { readonly config: Pick<ModelConfig, 'numClasses'> };

export interface PgdConfig {
  norm: Norm;
  /** radius of the ball around the clean image, in [0, 1] pixel units */
  eps: number;
  /** step size per iteration */
  step: number;
  iterations: number;
  /** start from a uniform (L∞) or uniform-in-ball (L2) random point instead of the clean image */
  randomStart: boolean;
  /** targeted: descend the loss of `target`; untargeted: ascend the loss of the true label */
  targeted: boolean;
}

/** The reference code's setting (REFERENCE_PGD): L∞, ε = 6/255, step ε/5, 7 iterations, no random start; untargeted. */
export const PGD_DEFAULT: PgdConfig = {
  norm: REFERENCE_PGD.norm,
  eps: REFERENCE_PGD.eps,
  step: REFERENCE_PGD.eps / REFERENCE_PGD.stepDivisor,
  iterations: REFERENCE_PGD.iterations,
  randomStart: REFERENCE_PGD.randomStart,
  targeted: false,
};

/** The default radius of each norm: the reference code's L∞ 6/255; L2 0.5, the common choice for 32×32 images. */
export const PGD_DEFAULT_EPS: Record<Norm, number> = { linf: PGD_DEFAULT.eps, l2: 0.5 };

/** The settings a command line or a notebook names, and only those. */
export type PgdSettings = Partial<Pick<PgdConfig, 'norm' | 'eps' | 'iterations' | 'randomStart'>>;

/** The budget of the settings given, the rest from PGD_DEFAULT: ε the norm's default, the step ε/5. */
export function pgdBudget(given: PgdSettings): PgdConfig {
  const norm = given.norm ?? PGD_DEFAULT.norm;
  const eps = given.eps ?? PGD_DEFAULT_EPS[norm];
  return { ...PGD_DEFAULT, ...given, norm, eps, step: eps / REFERENCE_PGD.stepDivisor };
}

/**
 * A budget as people write it: `L∞ 6/255 × 7`, `L∞ 0.3`, `L2 0.5`. An L∞ radius that is a whole
 * number of pixel levels is given in 255ths, as the papers give it; any other radius as it is.
 */
export function pgdBudgetText(b: Pick<PgdConfig, 'norm' | 'eps'> & { iterations?: number }): string {
  const levels = b.eps * 255;
  const eps = b.norm === 'linf' && Math.abs(levels - Math.round(levels)) < 1e-9 ? `${Math.round(levels)}/255` : `${b.eps}`;
  return `${b.norm === 'linf' ? 'L∞' : 'L2'} ${eps}${b.iterations === undefined ? '' : ` × ${b.iterations}`}`;
}

/** FGSM is one L∞ step of size ε from the clean image. */
export function fgsmConfig(eps: number, targeted = false): PgdConfig {
  return { norm: 'linf', eps, step: eps, iterations: 1, randomStart: false, targeted };
}

export function validatePgd(cfg: PgdConfig): void {
  if (cfg.norm !== 'linf' && cfg.norm !== 'l2') throw new Error(`pgd.norm: expected 'linf' or 'l2', got '${cfg.norm as string}'`);
  for (const k of ['eps', 'step'] as const) {
    if (!(Number.isFinite(cfg[k]) && cfg[k] >= 0)) throw new Error(`pgd.${k}: expected a finite number ≥ 0, got ${cfg[k]}`);
  }
  if (!Number.isInteger(cfg.iterations) || cfg.iterations < 0) throw new Error(`pgd.iterations: expected an integer ≥ 0, got ${cfg.iterations}`);
}

/** Per-image L2 norms of a batch, shaped [N, 1, 1, 1] for broadcasting. */
function l2PerImage(t: tf.Tensor4D): tf.Tensor4D {
  return tf.sqrt(tf.add(tf.sum(tf.square(t), [1, 2, 3], true), 1e-24)) as tf.Tensor4D;
}

/** A Gaussian direction scaled to a radius drawn per image, uniform in volume (r = ε·u^(1/d)). */
function randomInL2Ball(gaussian: tf.Tensor4D, eps: number, rng: Rng): tf.Tensor4D {
  const [n, h, w, c] = gaussian.shape;
  const d = h * w * c;
  const radii = tf.tensor4d(
    Float32Array.from({ length: n }, () => eps * rng.float() ** (1 / d)),
    [n, 1, 1, 1],
  );
  return tf.mul(tf.div(gaussian, l2PerImage(gaussian)), radii) as tf.Tensor4D;
}

/** Project `delta` onto the ε-ball of the norm and keep x + delta inside [0, 1]. */
function project(x: tf.Tensor4D, delta: tf.Tensor4D, cfg: PgdConfig): tf.Tensor4D {
  const inBall = cfg.norm === 'linf' ? tf.clipByValue(delta, -cfg.eps, cfg.eps) : tf.mul(delta, tf.minimum(1, tf.div(cfg.eps, l2PerImage(delta))));
  return tf.sub(tf.clipByValue(tf.add(x, inBall), 0, 1), x) as tf.Tensor4D;
}

/**
 * Projected gradient descent on the cross-entropy of `labels` (true labels when untargeted,
 * targets when targeted), batched, with the model in eval mode. Returns the adversarial images,
 * which stay in [0, 1] and within ε of `x` in the chosen norm. The caller owns the result.
 */
export function pgd(model: Attackable, x: tf.Tensor4D, labels: tf.Tensor1D, cfg: PgdConfig, rng?: Rng): tf.Tensor4D {
  validatePgd(cfg);
  if (cfg.randomStart && !rng) throw new Error('pgd: randomStart needs an Rng');
  const k = model.config.numClasses;
  if (labels.rank !== 1 || labels.shape[0] !== x.shape[0] || labels.dtype !== 'int32') {
    throw new Error(`pgd: labels must be int32 [${x.shape[0]}] for a batch of ${x.shape[0]} images, got ${labels.dtype} [${labels.shape}]`);
  }
  // tf.oneHot turns an out-of-range label into an all-zero row, which would silently attack nothing.
  const range = labels.dataSync();
  for (let i = 0; i < range.length; i++) {
    if (!(range[i] >= 0 && range[i] < k)) throw new Error(`pgd: label ${range[i]} of image ${i} is outside [0, ${k - 1}]`);
  }
  return tf.tidy(() => {
    const onehot = tf.oneHot(labels, k);
    const lossOf = (adv: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, model.predict(adv as tf.Tensor4D), undefined, undefined, tf.Reduction.SUM);
    const gradOf = tf.grad(lossOf);
    let delta: tf.Tensor4D = tf.zerosLike(x);
    if (cfg.randomStart) {
      const n = x.size;
      delta =
        cfg.norm === 'linf'
          ? (tf.tensor(rng!.uniformArray(n, -cfg.eps, cfg.eps), x.shape) as tf.Tensor4D)
          : randomInL2Ball(tf.tensor(rng!.normalArray(n), x.shape) as tf.Tensor4D, cfg.eps, rng!);
      delta = project(x, delta, cfg);
    }
    const sign = cfg.targeted ? -1 : 1;
    for (let i = 0; i < cfg.iterations; i++) {
      const next = tf.tidy(() => {
        const g = gradOf(tf.add(x, delta)) as tf.Tensor4D;
        const dir = cfg.norm === 'linf' ? tf.sign(g) : tf.div(g, l2PerImage(g));
        return project(x, tf.add(delta, tf.mul(dir, sign * cfg.step)) as tf.Tensor4D, cfg);
      });
      delta.dispose();
      delta = next;
    }
    return tf.add(x, delta) as tf.Tensor4D;
  });
}
