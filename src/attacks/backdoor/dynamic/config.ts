import type { AugmentConfig } from '../../../data/augment';
import type { Dataset } from '../../../data/dataset';
import type { OptimizerConfig } from '../../../train/optimizer';
import type { ResolvedProfile } from '../../../train/profiles';
import type { ScheduleConfig } from '../../../train/schedule';

/**
 * The input-aware dynamic backdoor (Nguyen & Tran, NeurIPS 2020): a pattern generator G and a
 * mask generator M give every image its own trigger x' = x + m(x)·(g(x) − x).
 *
 * Stage 1 trains M alone: a diversity loss (different images → different masks) plus
 * λ_norm·mean(relu(m − density)), which keeps masks sparse. Stage 2 freezes M, as the reference
 * does, and trains the classifier f and G together on batches whose first p·B images carry
 * their own trigger and the target label, the next c·B carry the trigger of another image and
 * keep their true label (so a trigger only works on the image it was made for), and the rest
 * stay clean; loss = CE + λ_div · ‖x1 − x2‖ / ‖g(x1) − g(x2)‖.
 */
export interface DynamicAttackConfig {
  /** stage 1: epochs of mask-generator training (reference 25) */
  maskEpochs: number;
  /** stage 2: epochs of joint classifier + pattern-generator training */
  epochs: number;
  batchSize: number;
  /** p: fraction of each batch carrying its own trigger and the target label (reference 0.1) */
  poisonRate: number;
  /** c: fraction of each batch carrying another image's trigger and its true label (reference 0.1) */
  crossRate: number;
  /**
   * weight of the diversity loss, in both stages (reference 1). In stage 2 it pairs own-trigger
   * patterns with cross-trigger ones, so with crossRate 0 it has no pairs and is off.
   */
  lambdaDiv: number;
  /** weight of the mask-density penalty in stage 1 (reference 100) */
  lambdaNorm: number;
  /**
   * the penalty is mean(relu(m − maskDensity)) over pixels, as in the reference code (reference
   * 0.032): every mask value above it costs, so the density settles where the diversity loss
   * balances the penalty, at or below this value, not at it
   */
  maskDensity: number;
  /** generator size; the same for G and M */
  generator: { width: number; depth: number };
  classifierOptimizer: OptimizerConfig;
  classifierSchedule: ScheduleConfig;
  generatorOptimizer: OptimizerConfig;
  generatorSchedule: ScheduleConfig;
  maskOptimizer: OptimizerConfig;
  maskSchedule: ScheduleConfig;
  /** applied to clean images before any trigger, as the reference's data loaders do */
  augment: AugmentConfig;
}

/**
 * The reference's settings (VinAIResearch/input-aware-backdoor-attack-release) for a dataset:
 * 25 mask epochs, then 600 joint epochs with SGD(0.01, momentum 0.9, wd 5e-4) for f and
 * Adam(0.01, β 0.5/0.9) for G and M, step decays ×0.1; generator width 16 and depth 2 for
 * MNIST, 32 and 3 otherwise; random crops (padding 5) everywhere, rotations (±10°) except on
 * MNIST, flips on CIFAR-10 only. Our batch norm keeps PyTorch's default momentum 0.1 where the
 * reference's generator blocks use 0.05.
 */
export function referenceDynamicConfig(dataset: string): DynamicAttackConfig {
  const mnist = dataset === 'mnist';
  const adam: OptimizerConfig = { kind: 'adam', lr: 0.01, beta1: 0.5, beta2: 0.9, weightDecay: 0 };
  return {
    maskEpochs: 25,
    epochs: 600,
    batchSize: 128,
    poisonRate: 0.1,
    crossRate: 0.1,
    lambdaDiv: 1,
    lambdaNorm: 100,
    maskDensity: 0.032,
    generator: mnist ? { width: 16, depth: 2 } : { width: 32, depth: 3 },
    classifierOptimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    classifierSchedule: { kind: 'multistep', milestones: [100, 200, 300, 400], gamma: 0.1 },
    generatorOptimizer: adam,
    generatorSchedule: { kind: 'multistep', milestones: [200, 300, 400, 500], gamma: 0.1 },
    maskOptimizer: adam,
    maskSchedule: { kind: 'multistep', milestones: [10, 20], gamma: 0.1 },
    augment: { cropPadding: 5, flip: dataset === 'cifar10', rotation: mnist ? 0 : 10 },
  };
}

export function validateConfig(cfg: DynamicAttackConfig, data: Dataset): void {
  const intAtLeast = (field: keyof DynamicAttackConfig, min: number) => {
    const v = cfg[field] as number;
    if (!Number.isInteger(v) || v < min) throw new Error(`dynamic.${field}: expected an integer ≥ ${min}, got ${v}`);
  };
  intAtLeast('maskEpochs', 0);
  intAtLeast('epochs', 0);
  intAtLeast('batchSize', 2);
  const rate = (field: 'poisonRate' | 'crossRate') => {
    const v = cfg[field];
    if (!(v >= 0 && v < 1)) throw new Error(`dynamic.${field}: expected a number in [0, 1), got ${v}`);
  };
  rate('poisonRate');
  rate('crossRate');
  if (cfg.poisonRate + cfg.crossRate >= 1) {
    throw new Error(`dynamic.poisonRate + dynamic.crossRate: must be below 1 to leave clean images, got ${cfg.poisonRate} + ${cfg.crossRate}`);
  }
  if (Math.floor(cfg.poisonRate * cfg.batchSize) < 1) {
    throw new Error(`dynamic.poisonRate: ${cfg.poisonRate} × batchSize ${cfg.batchSize} leaves no triggered image per batch; raise poisonRate or batchSize`);
  }
  for (const field of ['lambdaDiv', 'lambdaNorm', 'maskDensity'] as const) {
    const v = cfg[field];
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`dynamic.${field}: expected a finite number ≥ 0, got ${v}`);
  }
  if (data.shape[0] < cfg.batchSize) {
    throw new Error(`dynamic.batchSize: ${cfg.batchSize} exceeds the ${data.shape[0]} training images of ${data.name}/${data.split}`);
  }
}

/**
 * The input-aware attack's schedule for a profile. The reference trains 25 mask epochs and 600
 * joint epochs; on a CPU the joint stage, where the classifier learns, gets the profile's epochs
 * and optimiser, so the classifier sees the training set as often as the benign reference and
 * ΔACC compares equal schedules; the mask generator gets 2 epochs of its own and the pattern
 * generator is narrower. `paper` keeps the reference's settings.
 */
export function dynamicConfigFor(profile: ResolvedProfile): DynamicAttackConfig {
  const ref = referenceDynamicConfig(profile.dataset);
  if (profile.profile === 'paper') return ref;
  const smoke = profile.profile === 'smoke';
  return {
    ...ref,
    maskEpochs: smoke ? 1 : 2,
    epochs: profile.train.epochs,
    batchSize: profile.train.batchSize,
    generator: { width: smoke ? 8 : 16, depth: profile.dataset === 'mnist' ? 2 : 3 },
    classifierOptimizer: profile.train.optimizer,
    classifierSchedule: profile.train.schedule,
    generatorSchedule: { kind: 'cosine' },
    maskSchedule: { kind: 'cosine' },
    augment: profile.train.augment,
  };
}
