import { type InfectedSummary, trainInfectedJobType } from '../attacks/backdoor/jobs';
import type { AttackRequest } from '../attacks/backdoor/attack';
import type { Cache } from '../cache';
import { JobPool } from '../jobs/pool';
import { type PoolProgressSink, poolProgressSink } from '../progress';
import { type BenignSummary, trainBenignJobType } from '../train/jobs';
import type { ResolvedProfile } from '../train/profiles';

/** The models an experiment compares: the benign reference and one infected model per request, same profile and seed. */
export interface ModelPlan {
  profile: ResolvedProfile;
  seed: number;
  requests: AttackRequest[];
  dataPath?: string;
}

export function requestLabel(r: AttackRequest): string {
  return r.mode === 'all2all' ? `${r.name} all2all` : `${r.name} → ${r.target}`;
}

/**
 * Trains (or finds in the cache) every model of the plan on the job pool, one job per model, and
 * returns their summaries; the weights stay in the cache for the caller to load.
 */
export async function trainModels(
  plan: ModelPlan,
  opts: { cache: Cache; backend?: string; progress?: PoolProgressSink },
): Promise<{ benign: BenignSummary; infected: InfectedSummary[] }> {
  const common = { profile: plan.profile, seed: plan.seed, dataPath: plan.dataPath, cacheRoot: opts.cache.root };
  const pool = new JobPool({ backend: opts.backend, onProgress: opts.progress ?? poolProgressSink() });
  try {
    const [benign, infected] = await Promise.all([
      pool.run(trainBenignJobType.job(common, 'benign')),
      pool.runAll(plan.requests.map((request) => trainInfectedJobType.job({ ...common, request }, requestLabel(request)))),
    ]);
    return { benign, infected };
  } finally {
    await pool.close();
  }
}
