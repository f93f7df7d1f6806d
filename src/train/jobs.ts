import { Cache } from '../cache';
import { type JobContext, jobType } from '../jobs/pool';
import type { ResolvedProfile } from './profiles';
import { trainBenign, type TrainRecord } from './run';

export interface TrainBenignArgs {
  profile: ResolvedProfile;
  seed: number;
  dataPath?: string;
  /** the parent's cache folder (a Cache cannot cross to a worker); default: PBE_CACHE_DIR or data-cache/ */
  cacheRoot?: string;
}

export interface BenignSummary {
  record: TrainRecord;
  fromCache: boolean;
}

/** Pool job: train (or load) one benign model; the weights stay in the cache, the record comes back. */
export async function trainBenignJob(args: TrainBenignArgs, ctx: JobContext): Promise<BenignSummary> {
  const { model, record, fromCache } = await trainBenign(args.profile, {
    seed: args.seed,
    cache: new Cache(args.cacheRoot),
    data: { path: args.dataPath, progress: false },
    progress: (u) => ctx.progress(u),
  });
  model.dispose();
  return { record, fromCache };
}

export const trainBenignJobType = jobType(__filename, trainBenignJob);
