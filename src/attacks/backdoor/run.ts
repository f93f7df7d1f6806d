import type { Cache } from '../../cache';
import type { DatasetSplits } from '../../data/dataset';
import { loadDataset, type LoadOptions } from '../../data/registry';
import type { ProgressSink } from '../../progress';
import { Rng } from '../../rng';
import type { ResolvedProfile } from '../../train/profiles';
import { modelConfigFor, profileData, type TrainedModel, trainOrLoad } from '../../train/run';
import { DEFAULT_POISON_RATIO, evaluateBackdoor, type PoisonedSet, poisonTrainingSet, triggeredTestSet, type TriggeredTestSet } from './poison';
import { trainDynamicInfected } from './dynamic-run';
import { type AttackOptions, attackNames, buildAttack } from './registry';
import type { AttackMode, BackdoorAttack } from './trigger';

/** What a user asks for: an attack by name, its mode and target, optional option overrides. */
export interface AttackRequest {
  name: string;
  mode: AttackMode;
  target: number;
  ratio?: number;
  options?: AttackOptions;
}

/** Every attack pbe-lab can train: the static ones of the registry and the input-aware dynamic one. */
export function backdoorAttackNames(): string[] {
  return [...attackNames(), 'dynamic'];
}

export interface InfectedModel extends TrainedModel {
  attack: BackdoorAttack;
  data: DatasetSplits;
  /** the poisoned training set and its ground truth; null for the dynamic attack, which poisons each batch afresh */
  poisoned: PoisonedSet | null;
  triggered: TriggeredTestSet;
  acc: number;
  asr: number;
}

/**
 * Poisons the profile's training subset with the attack and trains (or loads from the cache) the
 * infected model. The run seed fixes the trigger (`seed/attack`), which images are poisoned
 * (`seed/poison`) and the training itself.
 */
export async function trainInfected(
  profile: ResolvedProfile,
  request: AttackRequest,
  opts: { seed: number; data?: LoadOptions; progress?: ProgressSink; cache?: Cache; splits?: DatasetSplits },
): Promise<InfectedModel> {
  const data = opts.splits ?? profileData(await loadDataset(profile.dataset, { ...opts.data, cache: opts.cache ?? opts.data?.cache }), profile);
  if (request.name === 'dynamic') return trainDynamicInfected(profile, request, data, opts);
  const [, h, w, c] = data.train.shape;
  const attack = buildAttack({
    name: request.name,
    rule: { mode: request.mode, target: request.target, numClasses: data.train.classNames.length },
    inputShape: [h, w, c],
    seed: `${opts.seed}/attack`,
    options: request.options ?? {},
  });
  try {
    const ratio = request.ratio ?? DEFAULT_POISON_RATIO;
    const poisoned = poisonTrainingSet(data.train, attack, { ratio, rng: new Rng(opts.seed).fork('poison') });
    const triggered = triggeredTestSet(data.test, attack);
    const modelConfig = modelConfigFor(profile, data.train);
    const trained = await trainOrLoad({
      spec: { purpose: 'infected', attack: attack.config, ratio, dataset: profile.dataset, source: data.train.source, profile, modelConfig },
      modelConfig,
      trainSet: poisoned.data,
      testSet: data.test,
      evaluate: (m) => {
        const { acc, asr } = evaluateBackdoor(m, data.test, triggered);
        return { testAcc: acc, asr };
      },
      profile,
      seed: opts.seed,
      label: `${attack.name} ${request.mode} → ${request.mode === 'all2one' ? request.target : 'y+1'}`,
      progress: opts.progress,
      cache: opts.cache,
    });
    const { acc, asr } = evaluateBackdoor(trained.model, data.test, triggered);
    return { ...trained, attack, data, poisoned, triggered, acc, asr };
  } catch (e) {
    attack.trigger.dispose();
    throw e;
  }
}
