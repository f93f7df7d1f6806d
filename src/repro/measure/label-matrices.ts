import { observe, type ObserveResult } from '../../experiments/observe';
import { FIG1_MIN_TARGET_SHARE } from '../../paper/numbers';
import { pct } from '../format';
import type { ReproSettings } from '../settings';

/** 01-label-matrices: Fig. 1a (benign), Fig. 1b (one infected model per target) and Fig. 4 (all-to-all). */
export interface LabelMatricesValues {
  attack: string;
  benign: { acc: number; meanWrongClassEntropy: number | null; maxWrongClassShare: number | null; targetShare: number };
  infected: { models: ObserveResult['models']['infected']; minTargetShare: number | null; meanTargetShare: number | null; rowsAtLeast40: number; rows: number };
  allToAll: { acc: number; asr: number; minTargetShare: number | null; meanTargetShare: number | null };
  metrics: { benignWrongClassEntropy: number | null; minTargetShare: number | null; meanTargetShare: number | null; allToAllMeanTargetShare: number | null };
}

export interface LabelMatrices {
  values: LabelMatricesValues;
  /** the observations, for their figures */
  oneToOne: ObserveResult;
  allToAll: ObserveResult;
}

export async function measureLabelMatrices(s: ReproSettings, seed: number, backend?: string): Promise<LabelMatrices> {
  const run = (mode: 'all2one' | 'all2all', targets: number[]) =>
    observe({ profile: s.training, attack: { name: s.matrixAttack.name, mode }, targets, seed, pgd: s.pgd, images: s.images, tsnePoints: 120, backend });
  const oneToOne = await run('all2one', s.targets);
  const allToAll = await run('all2all', [0]);
  const atLeast = oneToOne.infected.rows.filter((r) => r.targetShare! >= FIG1_MIN_TARGET_SHARE.value).length;
  const values: LabelMatricesValues = {
    attack: s.matrixAttack.name,
    benign: {
      acc: oneToOne.models.benign.acc,
      meanWrongClassEntropy: oneToOne.benign.meanWrongClassEntropy,
      maxWrongClassShare: oneToOne.benign.maxWrongClassShare,
      targetShare: oneToOne.distances.targetShare.benign,
    },
    infected: {
      models: oneToOne.models.infected,
      minTargetShare: oneToOne.infected.minTargetShare,
      meanTargetShare: oneToOne.infected.meanTargetShare,
      rowsAtLeast40: atLeast,
      rows: oneToOne.infected.rows.length,
    },
    allToAll: {
      acc: allToAll.models.infected[0].acc,
      asr: allToAll.models.infected[0].asr,
      minTargetShare: allToAll.infected.minTargetShare,
      meanTargetShare: allToAll.infected.meanTargetShare,
    },
    metrics: {
      benignWrongClassEntropy: oneToOne.benign.meanWrongClassEntropy,
      minTargetShare: oneToOne.infected.minTargetShare,
      meanTargetShare: oneToOne.infected.meanTargetShare,
      allToAllMeanTargetShare: allToAll.infected.meanTargetShare,
    },
  };
  return { values, oneToOne, allToAll };
}

const maxShare = (r: ObserveResult) => Math.max(...r.infected.rows.map((row) => row.targetShare!));

export function benignSpreadReading(m: LabelMatrices): string {
  return `Fig. 1a. The paper: a benign model's adversarial labels spread roughly uniformly over the wrong classes. Measured: normalised entropy of the wrong-class labels ${m.oneToOne.benign.meanWrongClassEntropy!.toFixed(2)} on average (1 = uniform, 0 = one class), the largest single wrong class taking ${pct(m.oneToOne.benign.maxWrongClassShare!)} of a row's wrong predictions at most.`;
}

export function infectedMatrixReading(m: LabelMatrices, s: ReproSettings): string {
  const v = m.values;
  return `Fig. 1b (${s.matrixAttack.name}; ${s.matrixAttack.why}). The paper: at least ${pct(FIG1_MIN_TARGET_SHARE.value, 0)} of each infected model's adversarial examples go to its target. Measured: ${pct(v.infected.minTargetShare!)} to ${pct(maxShare(m.oneToOne))}, mean ${pct(v.infected.meanTargetShare!)}; ${v.infected.rowsAtLeast40} of ${v.infected.rows} rows reach ${pct(FIG1_MIN_TARGET_SHARE.value, 0)}. The benign model puts ${pct(v.benign.targetShare)} of the same images' adversarial examples on label ${s.targets[0]}.`;
}

export function allToAllReading(m: LabelMatrices, s: ReproSettings): string {
  const v = m.values.allToAll;
  return `Fig. 4, all-to-all (${s.matrixAttack.name}, target y+1, ASR ${pct(v.asr)}). The paper: the dominant label of each row is y+1. Measured: the share on y+1 is ${pct(v.minTargetShare!)} to ${pct(maxShare(m.allToAll))} per true class, mean ${pct(v.meanTargetShare!)}.`;
}
