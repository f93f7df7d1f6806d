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
  const { cfg } = args;
  const { specs: _specs, ...report } = await defend(cfg, {
    cache: new Cache(args.cacheRoot),
    progress: (u) => ctx.progress(u),
    // A line per measured stage, so that a run of hours shows its numbers as they come.
    onStage: (s) => process.stderr.write(`${cfg.defense} ${cfg.attack.name}: ${s.stage} ACC ${(100 * s.acc).toFixed(2)}% ASR ${(100 * s.asr).toFixed(2)}%\n`),
  });
  return report;
}

export const defendJobType = jobType(__filename, defendJob);
