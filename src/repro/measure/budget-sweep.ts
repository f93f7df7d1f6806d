import { type BudgetRow, budgetSweep } from '../../analysis';
import type { AttackRequest } from '../../attacks/backdoor/attack';
import { trainInfected } from '../../attacks/backdoor/run';
import type { Cache } from '../../cache';
import { balancedIndices, subset } from '../../data/dataset';
import { loadDataset } from '../../data/registry';
import { Rng } from '../../rng';
import { profileData, trainBenign } from '../../train/run';
import { pct } from '../format';
import type { ReproSettings } from '../settings';
import { keptMeasurement } from './kept';

/** 05-budget-sweep (our extension): the observation at several L∞ and L2 budgets. */
export interface BudgetSweepValues {
  attack: string;
  rows: BudgetRow[];
  linfLow: BudgetRow;
  linfHigh: BudgetRow;
  metrics: { targetShareLinfLow: number; targetShareLinfHigh: number };
}

/**
 * The sweep over both norms' budgets on the benign model and the scale's infected one. Kept in the
 * cache under the models' identity, the sweep and the data's location, so a later sitting reads it.
 */
export async function measureBudgetSweep(s: ReproSettings, seed: number, opts: { cache?: Cache } = {}): Promise<{ values: BudgetSweepValues }> {
  const request = { name: s.matrixAttack.name, mode: 'all2one' as const, target: 0 };
  const values = await keptMeasurement(
    s,
    seed,
    request,
    {
      folder: 'budget-sweeps',
      kind: 'budget-sweep',
      depends: { sweep: s.sweep },
      what: `the budget sweep on ${s.matrixAttack.name}`,
      restore: (entry) => JSON.parse(entry.read('values.json').toString()) as BudgetSweepValues,
      compute: async (cache) => {
        const v = await sweep(s, seed, request, cache);
        return { result: v, contents: { 'values.json': JSON.stringify(v) } };
      },
    },
    opts,
  );
  return { values };
}

async function sweep(s: ReproSettings, seed: number, request: AttackRequest, cache: Cache): Promise<BudgetSweepValues> {
  const data = profileData(await loadDataset(s.dataset, { cache }), s.training);
  const benign = await trainBenign(s.training, { seed, splits: data, cache });
  const infected = await trainInfected(s.training, request, { seed, splits: data, cache });
  try {
    const images = subset(data.test, balancedIndices(data.test, Math.ceil(s.sweep.images / data.test.classNames.length)), 'sweep-images');
    const rows = budgetSweep(
      benign.model,
      [{ name: s.matrixAttack.name, infected: infected.model, trigger: infected.attack.trigger, rule: infected.attack.rule }],
      images,
      {
        eps: { linf: s.sweep.linf, l2: s.sweep.l2 },
        batchSize: 128,
        rng: new Rng(seed).fork('sweep'),
      },
    );
    const linf = rows.filter((r) => r.norm === 'linf');
    const [low, high] = [linf[0], linf[linf.length - 1]];
    return {
      attack: s.matrixAttack.name,
      rows,
      linfLow: low,
      linfHigh: high,
      metrics: { targetShareLinfLow: low.targetShareInfected, targetShareLinfHigh: high.targetShareInfected },
    };
  } finally {
    benign.model.dispose();
    infected.model.dispose();
    infected.attack.trigger.dispose();
  }
}

export function budgetSweepReading(v: BudgetSweepValues): string {
  const { linfLow: low, linfHigh: high } = v;
  return `Not in the paper, which measures one budget. Measured (${v.attack}, L∞): the infected model sends ${pct(low.targetShareInfected)} of its adversarial examples to the target at ε = ${low.eps.toFixed(3)} and ${pct(high.targetShareInfected)} at ε = ${high.eps.toFixed(3)}, the benign model ${pct(low.targetShareBenign)} and ${pct(high.targetShareBenign)}.`;
}
