import type { Cache } from '../../cache';
import type { DatasetSplits } from '../../data/dataset';
import { loadDataset, type LoadOptions } from '../../data/registry';
import type { ProgressSink } from '../../progress';
import { Rng } from '../../rng';
import type { ResolvedProfile } from '../../train/profiles';
import { modelConfigFor, profileData, trainOrLoad } from '../../train/run';
import type { AttackRequest, InfectedModel, InfectedTrainingContext } from './attack';
import { DEFAULT_POISON_RATIO, evaluateBackdoor, poisonTrainingSet, triggeredTestSet } from './poison';
import { attackDefinition, buildAttack, stampOrderOf } from './registry';
import { trainingView } from './stamping';

/**
 * Trains (or loads from the cache) the infected model of `request` on the profile's subset of the
 * dataset, with the attack's own training strategy when it registered one, else by poisoning.
 */
export async function trainInfected(
  profile: ResolvedProfile,
  request: AttackRequest,
  opts: { seed: number; data?: LoadOptions; progress?: ProgressSink; cache?: Cache; splits?: DatasetSplits; keepEpochs?: boolean },
): Promise<InfectedModel> {
  stampOrderOf(request);
  const train = attackDefinition(request.name).train ?? poisonAndTrain;
  const data = opts.splits ?? profileData(await loadDataset(profile.dataset, { ...opts.data, cache: opts.cache ?? opts.data?.cache }), profile);
  return train({ profile, request, data, seed: opts.seed, cache: opts.cache, progress: opts.progress, keepEpochs: opts.keepEpochs });
}

/**
 * The strategy of static attacks: poisons the training set once and trains with the standard
 * trainer, stamping the trigger after or before augmentation as the request says (stamping.ts).
 * The run seed fixes the trigger (`seed/attack`), which images are poisoned (`seed/poison`) and
 * the training itself. The returned poisoned set is the stored one, what a defender receives.
 */
export async function poisonAndTrain({ profile, request, data, ...opts }: InfectedTrainingContext): Promise<InfectedModel> {
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
    const stamp = stampOrderOf(request);
    const poisoned = poisonTrainingSet(data.train, attack, { ratio, rng: new Rng(opts.seed).fork('poison') });
    const view = trainingView(data.train, poisoned, attack, stamp);
    const triggered = triggeredTestSet(data.test, attack);
    const modelConfig = modelConfigFor(profile, data.train);
    const trained = await trainOrLoad({
      spec: { purpose: 'infected', attack: attack.config, ratio, stamp, dataset: profile.dataset, source: data.train.source, profile, modelConfig },
      modelConfig,
      trainSet: view.data,
      prepareBatch: view.prepareBatch,
      testSet: data.test,
      evaluate: async (m) => {
        const { acc, asr } = await evaluateBackdoor(m, data.test, triggered);
        return { testAcc: acc, asr };
      },
      profile,
      seed: opts.seed,
      label: `${attack.name} ${request.mode} → ${request.mode === 'all2one' ? request.target : 'y+1'}`,
      progress: opts.progress,
      cache: opts.cache,
      keepEpochs: opts.keepEpochs,
    });
    const { acc, asr, targetAcc } = await evaluateBackdoor(trained.model, data.test, triggered, attack.rule);
    return { ...trained, attack, data, poisoned, triggered, acc, asr, targetAcc };
  } catch (e) {
    attack.trigger.dispose();
    throw e;
  }
}
