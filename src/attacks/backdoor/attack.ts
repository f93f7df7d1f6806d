/**
 * The attack catalogue's interface: what an attack is (its definition, with options, defaults
 * and provenance), what a request for one and its results look like, and what an attack's
 * training strategy gets and returns. Types only; the registry is registry.ts, the entries are
 * one file each (badnets.ts, blend.ts, sig.ts, wanet.ts, dynamic/strategy.ts), listed in all.ts.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Cache } from '../../cache';
import type { Dataset, DatasetSplits } from '../../data/dataset';
import type { ProgressSink } from '../../progress';
import type { Definition, Options } from '../../registry';
import type { Rng, Seed } from '../../rng';
import type { ResolvedProfile } from '../../train/profiles';
import type { TrainedModel } from '../../train/run';
import type { InputShape } from './checks';
import type { AttackMode, BackdoorAttack, LabelRule, Trigger } from './trigger';

/** Attack options are flat JSON values, so a whole AttackConfig can go into a cache key. */
export type AttackOptions = Options;

/** Everything that determines an attack; plain JSON. */
export interface AttackConfig {
  name: string;
  rule: LabelRule;
  /** [height, width, channels] of the images it is applied to */
  inputShape: InputShape;
  /** fixes whatever is random in the trigger (blend noise, warping field) */
  seed: Seed;
  /** overrides of the attack's defaults; unknown names are errors */
  options?: AttackOptions;
}

/**
 * An attack ready to poison: the trigger and how its images are labelled. `config` is the
 * resolved configuration (every default filled in), the one to put into cache keys, so that
 * changing a default changes the key.
 */
export interface StaticAttack {
  name: string;
  trigger: Trigger;
  rule: LabelRule;
  /** poisoned images are taken from the target class and keep their labels (SIG) */
  cleanLabel: boolean;
  /** a clean-label attack's largest poisoned share of the target class, in (0, 1]; absent otherwise */
  targetShare?: number;
  /** noise-mode images per poisoned image (WaNet's cross ratio); 0 when the attack has none */
  crossRatio: number;
  /** the noise-mode warp; present exactly when crossRatio > 0 */
  applyCross?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
  config: Required<AttackConfig>;
}

export interface AttackBuildContext {
  rule: LabelRule;
  inputShape: InputShape;
  seed: Seed;
  /** the defaults overridden by the config's options, type-checked against the defaults */
  options: Readonly<AttackOptions>;
}

export type AttackParts = Omit<StaticAttack, 'name' | 'rule' | 'config'>;

/**
 * An attack: its options (defaults with provenance, see src/registry.ts) and either `build`, for
 * a static trigger that poisons the training set once, or `train`, for an attack that learns its
 * trigger with the classifier and so brings its own training strategy (the dynamic attack).
 */
export interface AttackDefinition extends Definition<AttackOptions> {
  /**
   * Fills in what the option values alone do not identify, before the config is keyed (a
   * pattern file's checksum); the identity when absent.
   */
  resolve?(options: AttackOptions): AttackOptions;
  build?(ctx: AttackBuildContext): AttackParts;
  train?: InfectedTrainer;
}

/**
 * When a static attack's trigger is put on a poisoned training image, relative to the training
 * augmentation (stamping.ts): after-augment stamps each augmented image, before-augment stamps
 * the stored image once.
 */
export type StampOrder = 'after-augment' | 'before-augment';

/** What a user asks for: an attack by name, its mode and target, optional option overrides. */
export interface AttackRequest {
  name: string;
  mode: AttackMode;
  target: number;
  ratio?: number;
  options?: Options;
  /** when a static attack's trigger is stamped relative to the training augmentation; default after (stamping.ts) */
  stamp?: StampOrder;
}

export interface InfectedModel extends TrainedModel {
  attack: BackdoorAttack;
  data: DatasetSplits;
  /** the poisoned training set and its ground truth; null for an attack that poisons each batch afresh (dynamic) */
  poisoned: PoisonedSet | null;
  triggered: TriggeredTestSet;
  acc: number;
  asr: number;
  /** clean accuracy on the target class's test images (all-to-one); null for all-to-all */
  targetAcc: number | null;
}

/** What an attack's training strategy gets: the profile's data already cut, and where to cache. */
export interface InfectedTrainingContext {
  profile: ResolvedProfile;
  request: AttackRequest;
  data: DatasetSplits;
  seed: number;
  cache?: Cache;
  progress?: ProgressSink;
  /** keep every epoch's weights when the model is trained here (TrainJob.keepEpochs) */
  keepEpochs?: boolean;
}

/**
 * How an infected model is trained (or loaded from the cache). Static attacks share one strategy
 * (poison once, train with the standard trainer); an attack that learns its trigger with the
 * classifier registers its own.
 */
export type InfectedTrainer = (ctx: InfectedTrainingContext) => Promise<InfectedModel>;

export interface PoisonedSet {
  /** the training set with poisoned (and noise-mode) images in place, same order as the input */
  data: Dataset;
  /** ascending indices of the images whose pixels or label the attack changed: the ground truth */
  poisonedIndices: Int32Array;
  /** ascending indices of WaNet's noise-mode images (warped, true labels kept); empty otherwise */
  crossIndices: Int32Array;
  /**
   * Every image chosen for the trigger and for the noise-mode warp, ascending, including any the
   * stored stamp happened to leave unchanged: what stamping after augmentation stamps.
   */
  stamped: { poison: Int32Array; cross: Int32Array };
}

export interface TriggeredTestSet {
  /** triggered images, labelled with their target labels */
  data: Dataset;
  /** where each image came from in the clean test set */
  sourceIndices: Int32Array;
  /** their true labels */
  trueLabels: Int32Array;
}
