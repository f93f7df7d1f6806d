import type { Cache } from '../cache';
import type { Dataset } from '../data/dataset';
import type { Model } from '../models/model';
import type { ProgressSink } from '../progress';
import type { Seed } from '../rng';
import type { EpochRecord } from '../train/trainer';

/** What every baseline works from: the infected model (read-only) and the clean extra set. */
export interface BaselineRun {
  infected: Model;
  /** the defender's clean extra data (the same seeded 5% for every baseline) */
  clean: Dataset | undefined;
  seed: Seed;
  progress?: ProgressSink;
  cache?: Cache;
}

/** A fine-tune's trace as a defense log keeps it. */
export interface FineTuneLog {
  history: EpochRecord[];
  fromCache: boolean;
}

/** The clean extra set, or a clear error naming the defense that needs it. */
export function requireClean(run: BaselineRun, defense: string): Dataset {
  const clean = run.clean;
  if (!clean) throw new Error(`${defense} needs clean extra data (the defender's clean share of the training set); none was given`);
  if (clean.shape[0] === 0) throw new Error(`${defense}: the clean extra set is empty`);
  return clean;
}
