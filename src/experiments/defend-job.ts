import { Cache } from '../cache';
import { type JobContext, jobType } from '../jobs/pool';
import { defend, type DefendConfig, type DefendReport } from './defend';

export interface DefendJobArgs {
  cfg: DefendConfig;
  /** the parent's cache folder (a Cache cannot cross to a worker) */
  cacheRoot?: string;
}

export type DefendSummary = DefendReport & { fromCache: boolean };

/** Pool job: one defense on one infected model (trained first if it is not cached); the report comes back, the figures stay on disk. */
export async function defendJob(args: DefendJobArgs, ctx: JobContext): Promise<DefendSummary> {
  const { specs: _specs, ...report } = await defend(args.cfg, { cache: new Cache(args.cacheRoot), progress: (u) => ctx.progress(u) });
  return report;
}

export const defendJobType = jobType(__filename, defendJob);
