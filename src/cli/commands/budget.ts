import { attackNames } from '../../attacks/backdoor/registry';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import { DEFAULT_CLEAN_RATIO } from '../../defenses/clean-set';
import { pgdBudgetText } from '../../attacks/adversarial/pgd';
import { DEFAULT_MIN_MISCLASSIFIED } from '../../defenses/pgd-budget-rule';
import { type BudgetRuleReport, defenderBudget } from '../../experiments/budget-rule';
import { defineCommand } from '../command';
import {
  ATTACK_OPTIONS,
  attackListFrom,
  attackRequestFrom,
  checkWritable,
  cleanSizeFrom,
  DEFAULT_TARGET,
  opt,
  profileFrom,
  RUN_OPTIONS,
  targetFrom,
  UsageError,
} from '../options';

export const budget = defineCommand({
  name: 'budget',
  summary:
    "the PGD budget a defender would choose for each infected model from its clean extra set alone (the defender-side rule): every budget's scores and the choice",
  options: {
    ...RUN_OPTIONS,
    attack: opt.string(`attack(s), comma-separated: ${attackNames().join(', ')} (required)`, 'name[,…]'),
    ...ATTACK_OPTIONS,
    target: opt.int(`target label of all-to-one (default ${DEFAULT_TARGET})`, { min: 0 }),
    cleanRatio: opt.number(`size of the clean extra set as a share of the training set, in (0, 1] (default ${DEFAULT_CLEAN_RATIO})`, { min: 0 }),
    cleanSize: opt.int('size of the clean extra set in images, instead of --clean-ratio', { min: 1 }),
    minMisclassified: opt.number(`share of the images a budget must mislead to be eligible, in [0, 1] (default ${DEFAULT_MIN_MISCLASSIFIED})`, { min: 0 }),
    seed: opt.int('run seed', { min: 0, default: 0 }),
  },
  async run(o) {
    const attacks = attackListFrom(o.attack);
    const profile = profileFrom(o);
    const target = targetFrom(o, profile.dataset);
    const clean = cleanSizeFrom(o);
    if (o.minMisclassified !== undefined && !(o.minMisclassified <= 1))
      throw new UsageError(`--min-misclassified expects a share in [0, 1], got ${o.minMisclassified}`);
    const cache = new Cache();
    checkWritable([], cache.root);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    for (const name of attacks) {
      const r = await defenderBudget(
        {
          profile,
          attack: attackRequestFrom(o, name, target),
          seed: o.seed,
          ...clean,
          minMisclassified: o.minMisclassified,
          dataPath: o.path,
        },
        { cache },
      );
      printBudgetReport(r);
    }
    return 0;
  },
});

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

function printBudgetReport(r: BudgetRuleReport): void {
  const a = r.config.attack;
  console.log(
    `\n${a.name} ${a.mode}${r.target !== null ? ` → ${r.target}` : ''} on ${r.config.profile.dataset}, profile ${r.config.profile.profile}: ACC ${pct(r.model.acc)} ASR ${pct(r.model.asr)}; ${r.cleanImages} clean images${r.fromCache ? '  [from cache]' : ''}`,
  );
  console.log('budget       misled  top label  its share');
  for (const s of r.scores) {
    const mark = r.chosen && s.norm === r.chosen.norm && s.eps === r.chosen.eps ? '  ← chosen' : '';
    console.log(
      `${pgdBudgetText(s).padEnd(11)} ${pct(s.misclassified).padStart(7)}  ${String(s.label).padStart(9)}  ${pct(s.concentration).padStart(9)}${mark}`,
    );
  }
  if (r.chosen === null)
    console.log(`no budget misleads ${pct(r.config.minMisclassified ?? DEFAULT_MIN_MISCLASSIFIED)} of the images: the rule makes no choice`);
  else
    console.log(
      `chosen: ${pgdBudgetText(r.chosen)} (pbe defend --norm ${r.chosen.norm} --eps ${r.chosen.eps}); its top label ${r.chosen.label} ${r.target === null ? '' : r.chosen.label === r.target ? 'is the target' : `is not the target ${r.target}`}`,
    );
  console.log(`rule ${r.seconds.toFixed(0)} s; report ${r.reportFile}`);
}
