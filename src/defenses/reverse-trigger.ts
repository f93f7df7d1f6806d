import * as tf from '@tensorflow/tfjs-core';

/**
 * Neural Cleanse's trigger reverse-engineering (Wang et al., S&P 2019, §IV-B), read from the
 * authors' `visualizer.py` (bolunwang/backdoor):
 * - a trigger is a mask m ∈ [0, 1]^{H×W} shared by the channels and a pattern Δ ∈ [0, 1]^{H×W×C},
 *   applied as x' = (1 − m)·x + m·Δ;
 * - both are optimised in tanh space, m = tanh(m̂)/(2 − ε) + 0.5, so they stay in range without
 *   clipping;
 * - the loss for target y_t is CE(f(x'), y_t) + cost·|m|₁, with the cost adapted during the run
 *   by `CostSchedule`.
 * Pixel values here are in [0, 1]; the authors work in [0, 255], which scales only the pattern.
 */
export const TANH_EPSILON = 1e-7;

export function fromTanh(raw: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.div(tf.tanh(raw), 2 - TANH_EPSILON), 0.5));
}

/** The inverse of fromTanh for values in [0, 1] (clipped first, as the authors' reset_state does). */
export function toTanh(values: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.atanh(tf.mul(tf.sub(tf.clipByValue(values, 0, 1), 0.5), 2 - TANH_EPSILON)));
}

/** A trigger in image space: mask [H, W, 1], pattern [H, W, C]. */
export interface Trigger {
  mask: tf.Tensor3D;
  pattern: tf.Tensor3D;
}

/** x' = (1 − m)·x + m·Δ, broadcast over the batch (and the mask over channels). */
export function stampTrigger(x: tf.Tensor4D, trigger: Trigger): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(x, tf.sub(1, trigger.mask)), tf.mul(trigger.mask, trigger.pattern)));
}

/** |m|₁ of the mask (H×W values; the authors divide the channel-repeated sum by C, the same number). */
export function maskNorm(mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.abs(mask)) as tf.Scalar);
}

/** The per-batch objective: mean CE towards `target` of the stamped batch, plus cost·|m|₁. */
export function reverseLoss(logits: tf.Tensor2D, target: number, mask: tf.Tensor, cost: number): { loss: tf.Scalar; ce: tf.Scalar; reg: tf.Scalar } {
  return tf.tidy(() => {
    const [n, k] = logits.shape;
    const labels = tf.oneHot(tf.fill([n], target, 'int32') as tf.Tensor1D, k);
    const ce = tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    const reg = maskNorm(mask);
    return { loss: tf.add(ce, tf.mul(reg, cost)) as tf.Scalar, ce, reg };
  });
}

export type CostScheduleConfig = {
  /** the cost set once the reversed trigger first succeeds (1e-3) */
  initCost: number;
  /** success rate on the stamped batches that counts as "the trigger works" (0.99) */
  attackSuccThreshold: number;
  /** steps in a row above/below the threshold before the cost moves (5) */
  patience: number;
  /** up ×multiplier, down ÷multiplier^1.5 (2) */
  costMultiplier: number;
  earlyStop: boolean;
  /** a step "improves" when the best norm falls below threshold × the previous best (1.0) */
  earlyStopThreshold: number;
  /** steps without improvement before stopping, once the cost has moved both ways (25) */
  earlyStopPatience: number;
};

/** The authors' example settings (`gtsrb_visualize_example.py`). */
export const NC_COST_DEFAULTS: CostScheduleConfig = {
  initCost: 1e-3,
  attackSuccThreshold: 0.99,
  patience: 5,
  costMultiplier: 2,
  earlyStop: true,
  earlyStopThreshold: 1.0,
  earlyStopPatience: 25,
};

/**
 * The authors' cost controller, step by step: the cost starts at 0 (RESET_COST_TO_ZERO) and is
 * set to initCost once the trigger has succeeded for `patience` steps; afterwards it rises while
 * the trigger keeps succeeding and falls while it fails. The best trigger is the one with the
 * smallest mask norm among the steps whose success rate reached the threshold. One "step" is one
 * pass over the step's mini-batches, with their mean success rate and mask norm.
 */
export class CostSchedule {
  cost = 0;
  /** smallest mask norm of a successful step so far */
  regBest = Infinity;
  stopped = false;
  private setCounter = 0;
  private upCounter = 0;
  private downCounter = 0;
  private upFlag = false;
  private downFlag = false;
  private earlyStopCounter = 0;
  private earlyStopRegBest = Infinity;

  constructor(readonly cfg: CostScheduleConfig = NC_COST_DEFAULTS) {
    if (!(cfg.costMultiplier > 1)) throw new Error(`neural cleanse: costMultiplier must be > 1, got ${cfg.costMultiplier}`);
    if (!(cfg.attackSuccThreshold > 0 && cfg.attackSuccThreshold <= 1)) {
      throw new Error(`neural cleanse: attackSuccThreshold must be in (0, 1], got ${cfg.attackSuccThreshold}`);
    }
  }

  /** Records one step; returns whether its trigger is the new best. */
  update(successRate: number, reg: number): { best: boolean } {
    const { cfg } = this;
    const success = successRate >= cfg.attackSuccThreshold;
    const best = success && reg < this.regBest;
    if (best) this.regBest = reg;

    if (cfg.earlyStop) {
      if (this.regBest < Infinity) {
        if (this.regBest >= cfg.earlyStopThreshold * this.earlyStopRegBest) this.earlyStopCounter++;
        else this.earlyStopCounter = 0;
      }
      this.earlyStopRegBest = Math.min(this.regBest, this.earlyStopRegBest);
      if (this.downFlag && this.upFlag && this.earlyStopCounter >= cfg.earlyStopPatience) {
        this.stopped = true;
        return { best };
      }
    }

    if (this.cost === 0 && success) {
      this.setCounter++;
      if (this.setCounter >= cfg.patience) {
        this.cost = cfg.initCost;
        this.upCounter = 0;
        this.downCounter = 0;
        this.upFlag = false;
        this.downFlag = false;
      }
    } else {
      this.setCounter = 0;
    }

    if (success) {
      this.upCounter++;
      this.downCounter = 0;
    } else {
      this.upCounter = 0;
      this.downCounter++;
    }
    if (this.upCounter >= cfg.patience) {
      this.upCounter = 0;
      this.cost *= cfg.costMultiplier;
      this.upFlag = true;
    } else if (this.downCounter >= cfg.patience) {
      this.downCounter = 0;
      this.cost /= cfg.costMultiplier ** 1.5;
      this.downFlag = true;
    }
    return { best };
  }
}
