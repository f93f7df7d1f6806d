import { Cache } from '../../cache';
import { type JobContext, jobType } from '../../jobs/pool';
import type { ResolvedProfile } from '../../train/profiles';
import type { TrainRecord } from '../../train/run';
import type { AttackRequest } from './attack';
import { trainInfected } from './run';

export interface InfectedJobArgs {
  profile: ResolvedProfile;
  request: AttackRequest;
  seed: number;
  dataPath?: string;
  /** the parent's cache folder (a Cache cannot cross to a worker); default: PBE_CACHE_DIR or data-cache/ */
  cacheRoot?: string;
}

export interface InfectedSummary {
  attack: string;
  request: AttackRequest;
  acc: number;
  asr: number;
  /** clean accuracy on the target class's own test images; null for all-to-all */
  targetAcc: number | null;
  /** poisoned training images; null when the attack poisons each batch afresh (dynamic) */
  poisoned: number | null;
  record: TrainRecord;
  fromCache: boolean;
}

/** Pool job: train (or load) one infected model and measure its ACC and ASR. */
export async function trainInfectedJob(args: InfectedJobArgs, ctx: JobContext): Promise<InfectedSummary> {
  const r = await trainInfected(args.profile, args.request, {
    seed: args.seed,
    cache: new Cache(args.cacheRoot),
    data: { path: args.dataPath, progress: false },
    progress: (u) => ctx.progress(u),
  });
  r.model.dispose();
  r.attack.trigger.dispose();
  return {
    attack: r.attack.name,
    request: args.request,
    acc: r.acc,
    asr: r.asr,
    targetAcc: r.targetAcc,
    poisoned: r.poisoned?.poisonedIndices.length ?? null,
    record: r.record,
    fromCache: r.fromCache,
  };
}

export const trainInfectedJobType = jobType(__filename, trainInfectedJob);
