import type { Cache } from '../../cache';
import type { DatasetSplits } from '../../data/dataset';
import type { ProgressSink } from '../../progress';
import type { Options } from '../../registry';
import type { ResolvedProfile } from '../../train/profiles';
import type { TrainedModel } from '../../train/run';
import type { PoisonedSet, TriggeredTestSet } from './poison';
import type { StampOrder } from './stamping';
import type { AttackMode, BackdoorAttack } from './trigger';

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
