import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';

/**
 * Adversarial Neuron Perturbation (Wu & Wang, NeurIPS 2021), as in the authors' code
 * (csdongxian/ANP_backdoor, `optimize_mask_cifar.py`, `models/anp_batchnorm.py`). A "neuron" is
 * a batch-norm channel. Each gets a mask m ∈ [0, 1] and two perturbations δ (scale) and ξ (shift)
 * in [−ε, ε]; the batch norm's affine parameters become
 *   unperturbed: γ·m, β
 *   perturbed:   γ·(m + δ), β·(1 + ξ).
 * Per batch: δ, ξ start uniform in [−ε, ε] and take `steps` signed-gradient ascent steps of size
 * ε/steps on the cross-entropy; then the mask takes one SGD step (momentum 0.9) on
 * α·L(unperturbed) + (1 − α)·L(perturbed) and is clipped to [0, 1]. Neurons whose final mask is
 * small are pruned by zeroing their γ.
 */
export interface NeuronState {
  mask: tf.Variable<tf.Rank.R1>;
  noiseScale: tf.Variable<tf.Rank.R1>;
  noiseShift: tf.Variable<tf.Rank.R1>;
}

/** The batch norm's effective γ under the mask and, when `perturbed`, the scale perturbation: γ·(m [+ δ]). */
export function modulatedScale(gamma: tf.Tensor1D, s: NeuronState, perturbed: boolean): tf.Tensor1D {
  return tf.tidy(() => tf.mul(gamma, perturbed ? tf.add(s.mask, s.noiseScale) : s.mask));
}

/** The batch norm's effective β: β·(1 + ξ) when perturbed, β itself otherwise (the mask scales γ only). */
export function modulatedShift(beta: tf.Tensor1D, s: NeuronState, perturbed: boolean): tf.Tensor1D {
  return perturbed ? tf.tidy(() => tf.mul(beta, tf.add(1, s.noiseShift))) : beta;
}

/** δ and ξ drawn uniformly from [−ε, ε] (the authors' reset(rand_init=True)), from the seeded stream. */
export function resetNoise(s: NeuronState, eps: number, rng: Rng): void {
  const n = s.mask.shape[0];
  tf.tidy(() => {
    s.noiseScale.assign(tf.tensor1d(rng.uniformArray(n, -eps, eps)));
    s.noiseShift.assign(tf.tensor1d(rng.uniformArray(n, -eps, eps)));
  });
}

/**
 * One ascent step on the loss: v ← v + (ε/steps)·sign(∂L/∂v), projected back into [−ε, ε] when
 * `project`. The authors' code leaves out the projection (a random start plus one full step can
 * reach 2ε); the paper's problem constrains the perturbation to [−ε, ε].
 */
export function perturbationStep(noise: tf.Variable<tf.Rank.R1>, grad: tf.Tensor1D, eps: number, steps: number, project: boolean): void {
  tf.tidy(() => {
    const stepped = tf.add(noise, tf.mul(tf.sign(grad), eps / steps));
    noise.assign((project ? tf.clipByValue(stepped, -eps, eps) : stepped) as tf.Tensor1D);
  });
}

/** Masks live in [0, 1] (the authors' clip_mask after every step). */
export function clipMask(mask: tf.Variable<tf.Rank.R1>): void {
  tf.tidy(() => mask.assign(tf.clipByValue(mask, 0, 1)));
}

/** α·L_nat + (1 − α)·L_rob: the trade-off between clean accuracy and robustness to perturbation. */
export function anpObjective(natural: tf.Scalar, robust: tf.Scalar, alpha: number): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mul(natural, alpha), tf.mul(robust, 1 - alpha)));
}

/** One neuron's final mask value. */
export interface NeuronScore {
  /** the batch norm's name prefix, e.g. 'bn3' or 'layer2.0.bn1' */
  layer: string;
  channel: number;
  mask: number;
}

export type PruningRule = { by: 'threshold'; threshold: number } | { by: 'number'; count: number };

/**
 * The neurons to prune, smallest mask first (ties in network order): every neuron with mask ≤
 * threshold (the authors' evaluate_by_threshold), or the `count` smallest (evaluate_by_number).
 */
export function selectPruned(scores: readonly NeuronScore[], rule: PruningRule): NeuronScore[] {
  const order = scores
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.mask - b.s.mask || a.i - b.i)
    .map(({ s }) => s);
  if (rule.by === 'threshold') {
    if (!(rule.threshold >= 0 && rule.threshold <= 1)) throw new Error(`ANP pruning threshold: expected a number in [0, 1], got ${rule.threshold}`);
    return order.filter((s) => s.mask <= rule.threshold);
  }
  if (!Number.isInteger(rule.count) || rule.count < 0 || rule.count > scores.length) {
    throw new Error(`ANP pruning count: expected an integer in [0, ${scores.length}], got ${rule.count}`);
  }
  return order.slice(0, rule.count);
}
