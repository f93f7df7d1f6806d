import { adversarialLabelDistribution, type AdversarialLabelDistribution } from '../../analysis';
import type { AttackRequest } from '../../attacks/backdoor/attack';
import { trainInfected } from '../../attacks/backdoor/run';
import type { Cache } from '../../cache';
import { balancedIndices, type DatasetSplits, subset } from '../../data/dataset';
import { loadDataset } from '../../data/registry';
import { FIG1_MIN_TARGET_SHARE } from '../../paper/numbers';
import { profileData, trainBenign } from '../../train/run';
import { pct } from '../format';
import type { ReproSettings } from '../settings';
import { keptMeasurement } from './kept';

/** 00-teaching: one benign and one Blend model (target 0), and where their untargeted adversarial examples land. */
export interface TeachingValues {
  benignAcc: number;
  infectedAcc: number;
  asr: number;
  /** share of adversarial examples made from non-target images that land on the target */
  targetShare: { benign: number; infected: number };
  images: number;
  metrics: { targetShareInfected: number; targetShareBenign: number };
}

export const TEACHING_ATTACK = 'blend';
export const TEACHING_TARGET = 0;

/** Of the adversarial examples made from images outside the target class, the share predicted as the target. */
export function shareOnTarget(d: Pick<AdversarialLabelDistribution, 'byTrueClass'>, target: number): number {
  const rows = d.byTrueClass.filter((_, y) => y !== target);
  const onTarget = rows.reduce((a, row) => a + row[target], 0);
  const all = rows.reduce((a, row) => a + row.reduce((p, q) => p + q, 0), 0);
  return onTarget / all;
}

export interface Teaching {
  values: TeachingValues;
  distributions: { benign: AdversarialLabelDistribution; infected: AdversarialLabelDistribution };
}

/**
 * The benign and the Blend model's adversarial labels. Kept in the cache under the models'
 * identity, the PGD budget, the image count and the data's location, so a later sitting reads it.
 */
export async function measureTeaching(s: ReproSettings, seed: number, splits?: DatasetSplits, opts: { cache?: Cache } = {}): Promise<Teaching> {
  const request = { name: TEACHING_ATTACK, mode: 'all2one' as const, target: TEACHING_TARGET };
  return keptMeasurement(
    s,
    seed,
    request,
    {
      folder: 'teaching',
      kind: 'teaching',
      depends: { pgd: s.pgd, images: s.images },
      what: "the teaching notebook's adversarial labels",
      restore: (entry) => JSON.parse(entry.read('teaching.json').toString()) as Teaching,
      compute: async (cache) => {
        const t = await measure(s, seed, request, splits ?? profileData(await loadDataset(s.dataset, { cache }), s.training), cache);
        return { result: t, contents: { 'teaching.json': JSON.stringify(t) } };
      },
    },
    opts,
  );
}

async function measure(s: ReproSettings, seed: number, request: AttackRequest, data: DatasetSplits, cache: Cache): Promise<Teaching> {
  const benign = await trainBenign(s.training, { seed, splits: data, cache });
  const infected = await trainInfected(s.training, request, { seed, splits: data, cache });
  try {
    const images = subset(data.test, balancedIndices(data.test, Math.ceil(s.images / 10)), 'teaching-images');
    const opts = { batchSize: 100 };
    const distributions = {
      benign: adversarialLabelDistribution(benign.model, images, s.pgd, opts),
      infected: adversarialLabelDistribution(infected.model, images, s.pgd, opts),
    };
    const targetShare = { benign: shareOnTarget(distributions.benign, TEACHING_TARGET), infected: shareOnTarget(distributions.infected, TEACHING_TARGET) };
    return {
      values: {
        benignAcc: benign.record.cleanAccuracy,
        infectedAcc: infected.acc,
        asr: infected.asr,
        targetShare,
        images: images.shape[0],
        metrics: { targetShareInfected: targetShare.infected, targetShareBenign: targetShare.benign },
      },
      distributions,
    };
  } finally {
    benign.model.dispose();
    infected.model.dispose();
    infected.attack.trigger.dispose();
  }
}

export function teachingModelsReading(v: TeachingValues): string {
  return `The infected model classifies clean images about as well as the benign one (ACC ${pct(v.infectedAcc)} against ${pct(v.benignAcc)}), yet sends ${pct(v.asr)} of triggered images to \`${TEACHING_TARGET}\`: the backdoor is invisible on clean data.`;
}

export function teachingObservationReading(v: TeachingValues): string {
  const { benign, infected } = v.targetShare;
  const paper = FIG1_MIN_TARGET_SHARE.value;
  const verdict =
    infected >= paper
      ? `The paper reports at least ${pct(paper, 0)} on the target for infected models: the attack, told nothing about the backdoor, finds it.`
      : `The paper reports at least ${pct(paper, 0)} on the target for infected models; here the attack, told nothing about the backdoor, ${infected > benign ? 'finds it only partly' : "does not find it: the infected model's share is no higher than the benign one's"}.`;
  return `Of the adversarial examples made from images that are not of class \`${TEACHING_TARGET}\`, the benign model sends ${pct(benign)} to \`${TEACHING_TARGET}\` and the infected one ${pct(infected)} (${(infected / Math.max(benign, 1e-9)).toFixed(1)}×). ${verdict}`;
}
