import { Cache } from '../cache';
import type { JobContext } from '../jobs/pool';
import type { ResolvedProfile } from './profiles';
import { trainBenign, type TrainRecord } from './run';

export interface TrainBenignArgs {
  profile: ResolvedProfile;
  seed: number;
  dataPath?: string;
  /** the parent's cache folder (a Cache cannot cross to a worker); default: PBE_CACHE_DIR or data-cache/ */
  cacheRoot?: string;
}

/** Pool job: train (or load) one benign model; the weights stay in the cache, the record comes back. */
export async function trainBenignJob(args: TrainBenignArgs, ctx: JobContext): Promise<{ record: TrainRecord; fromCache: boolean }> {
  const { model, record, fromCache } = await trainBenign(args.profile, {
    seed: args.seed,
    cache: new Cache(args.cacheRoot),
    data: { path: args.dataPath, progress: false },
    progress: (u) => ctx.progress(u),
  });
  model.dispose();
  return { record, fromCache };
}
