import { Cache } from '../cache';
import { type JobContext, JobPool, jobType } from '../jobs/pool';
import { type PoolProgressSink } from '../progress';
import { defend, defendCached, type DefendConfig, type DefendReport } from './defend';

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
    // A finished one-step update per measured stage, so that a run of hours shows its numbers as
    // they come: a worker busy computing never flushes its stderr, while progress is posted at once.
    onStage: (s) =>
      ctx.progress({
        label: `${cfg.defense} ${s.stage}`,
        done: 1,
        total: 1,
        unit: 'stage',
        elapsedSec: 0,
        etaSec: 0,
        rate: 0,
        detail: `ACC ${(100 * s.acc).toFixed(2)}% ASR ${(100 * s.asr).toFixed(2)}%`,
      }),
  });
  return report;
}

export const defendJobType = jobType(__filename, defendJob);

/**
 * Runs the defenses not yet in the cache side by side on the job pool (PBE_WORKERS of them at a
 * time), so that a caller who then calls `defend` for each reads finished runs: two runs of an
 * hour take an hour on two cores, not two. Returns the labels of the runs it computed.
 */
export async function defendOnPool(
  runs: readonly { cfg: DefendConfig; label: string }[],
  opts: { cache?: Cache; backend?: string; workers?: number; onProgress?: PoolProgressSink } = {},
): Promise<string[]> {
  const cache = opts.cache ?? new Cache();
  const todo = runs.filter((r) => !defendCached(r.cfg, cache));
  if (todo.length === 0) return [];
  const pool = new JobPool({ workers: opts.workers, backend: opts.backend, onProgress: opts.onProgress });
  try {
    await Promise.all(todo.map((r) => pool.run(defendJobType.job({ cfg: r.cfg, cacheRoot: cache.root }, r.label))));
  } finally {
    await pool.close();
  }
  return todo.map((r) => r.label);
}
