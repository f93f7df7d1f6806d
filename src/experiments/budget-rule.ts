import { runtimeInfo } from '../backend';
import { PGD_DEFAULT } from '../attacks/adversarial/pgd';
import type { AttackRequest } from '../attacks/backdoor/attack';
import { trainInfected } from '../attacks/backdoor/run';
import { attackIdentity } from '../attacks/backdoor/registry';
import { datasetLocation, loadDataset } from '../data/registry';
import { type BudgetCandidate, type BudgetScore, chooseBudget, DEFAULT_BUDGET_GRID, DEFAULT_MIN_MISCLASSIFIED } from '../defenses/pgd-budget-rule';
import type { ResolvedProfile } from '../train/profiles';
import { profileData } from '../train/run';
import { type DefendConfig, defenderCleanSet, defenderView } from './defend';
import { cachedExperiment, experimentContext, type ExperimentOptions, type ReportHeader, resultOutput } from './output';

export interface BudgetRuleConfig {
  profile: ResolvedProfile;
  attack: AttackRequest;
  seed: number;
  /** the defender's clean extra set, as `defend --clean-data` draws it (default 5% of the training set) */
  cleanRatio?: number;
  cleanSize?: number;
  grid?: readonly BudgetCandidate[];
  minMisclassified?: number;
  /** PGD iterations per budget (default: the reference's 7, the observation's) */
  iterations?: number;
  dataPath?: string;
}

export interface BudgetRuleReport extends ReportHeader<BudgetRuleConfig> {
  /** every budget of the grid, scored on the clean extra set */
  scores: BudgetScore[];
  /** the rule's choice; null when no budget misleads enough of the images */
  chosen: BudgetScore | null;
  /** what the defender cannot know, beside the choice: whether its label is the attack's target */
  target: number | null;
  cleanImages: number;
  model: { acc: number; asr: number };
  seconds: number;
  reportFile: string;
  fromCache: boolean;
}

/**
 * Departure 5 of the fidelity review: the PGD budget the defender-side rule picks for one infected
 * model from the clean extra set that PBE's clean-data setting gets (the same images, by the same seed). The
 * result is kept in the cache under its config, so a second call reads it.
 */
export async function defenderBudget(cfg: BudgetRuleConfig, opts: ExperimentOptions = {}): Promise<BudgetRuleReport> {
  const { cache, progress } = experimentContext(opts);
  const attack = attackIdentity(cfg.attack);
  const grid = cfg.grid ?? DEFAULT_BUDGET_GRID;
  const minMisclassified = cfg.minMisclassified ?? DEFAULT_MIN_MISCLASSIFIED;
  const iterations = cfg.iterations ?? PGD_DEFAULT.iterations;
  const identity = { ...cfg, attack, grid, minMisclassified, iterations, dataPath: datasetLocation(cfg.profile.dataset, cfg.dataPath) };
  const key = { kind: 'budget-rule', cfg: identity };
  const out = resultOutput(cache, {
    key,
    folder: 'budget-rule',
    name: `${cfg.profile.dataset}-${cfg.attack.name}-${cfg.attack.mode}`,
    singleFile: true,
  });
  return cachedExperiment(cache, {
    kind: 'budget-rules',
    key,
    what: `the budget rule on ${cfg.attack.name}`,
    restore: (entry) => out.writeReport({ ...(JSON.parse(entry.read('report.json').toString()) as BudgetRuleReport), fromCache: true }),
    compute: async (store) => {
      const splits = profileData(await loadDataset(cfg.profile.dataset, { path: cfg.dataPath, cache }), cfg.profile);
      const infected = await trainInfected(cfg.profile, cfg.attack, { seed: cfg.seed, cache, splits, progress });
      try {
        const clean = defenderCleanSet(defenderView(infected, cfg.seed), splits.train, cfg);
        const t0 = Date.now();
        const { chosen, scores } = chooseBudget(infected.model, clean, {
          grid,
          minMisclassified,
          iterations,
          batchSize: cfg.profile.train.batchSize,
          progress,
        });
        const report: BudgetRuleReport = {
          config: identity,
          key: out.key,
          runtime: runtimeInfo(),
          scores,
          chosen,
          target: cfg.attack.mode === 'all2one' ? (cfg.attack.target ?? 0) : null,
          cleanImages: clean.shape[0],
          model: { acc: infected.acc, asr: infected.asr },
          seconds: (Date.now() - t0) / 1000,
          reportFile: out.reportFile,
          fromCache: false,
        };
        await store({ contents: { 'report.json': JSON.stringify(report) }, meta: { experiment: 'budget-rule', attack: cfg.attack.name } });
        return out.writeReport(report);
      } finally {
        infected.model.dispose();
        infected.attack.trigger.dispose();
      }
    },
  });
}

/**
 * A defend config whose PGD budget is the defender-side rule's choice for its model, scored on the
 * clean extra set the run itself gets (the same images, by the same seed). The rule needs that
 * set, so only the clean-data setting of a defense with a PGD step takes it; the defense's own
 * PGD iterations and random start stay as configured. The budget enters the config as given
 * fields, so the run shares its cache entry with the same budget given by hand.
 */
export async function defendConfigWithRuleBudget(cfg: DefendConfig, opts: ExperimentOptions = {}): Promise<{ cfg: DefendConfig; rule: BudgetRuleReport }> {
  if (!cfg.cleanData) throw new Error(`the budget rule scores the clean extra set, which ${cfg.defense} gets only in the clean-data setting`);
  if (cfg.pgd?.norm !== undefined || cfg.pgd?.eps !== undefined)
    throw new Error('the budget rule chooses the norm and ε; a config that gives either has its budget already');
  const rule = await defenderBudget(
    {
      profile: cfg.profile,
      attack: cfg.attack,
      seed: cfg.seed,
      ...(cfg.cleanRatio !== undefined ? { cleanRatio: cfg.cleanRatio } : {}),
      ...(cfg.cleanSize !== undefined ? { cleanSize: cfg.cleanSize } : {}),
      ...(cfg.dataPath !== undefined ? { dataPath: cfg.dataPath } : {}),
    },
    opts,
  );
  if (rule.chosen === null) {
    const least = rule.config.minMisclassified ?? DEFAULT_MIN_MISCLASSIFIED;
    throw new Error(
      `the budget rule makes no choice for ${cfg.attack.name}: no budget of its grid misleads ${(100 * least).toFixed(0)}% of the ${rule.cleanImages} clean images (${rule.reportFile})`,
    );
  }
  return { cfg: { ...cfg, pgd: { ...cfg.pgd, norm: rule.chosen.norm, eps: rule.chosen.eps } }, rule };
}
