import { pgdBudgetText, type PgdSettings } from '../../attacks/adversarial/pgd';
import { DEFAULT_POISON_RATIO } from '../../attacks/backdoor/poison';
import { attackNames } from '../../attacks/backdoor/registry';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import type { DatasetSplits } from '../../data/dataset';
import { loadDataset } from '../../data/registry';
import { DEFAULT_CLEAN_RATIO } from '../../defenses/clean-set';
import { defenseDefinition, defenseNames, resolveDefenseOptions, resolveDefensePgd } from '../../defenses';
import { PGD_BUDGET_OPTION, type PgdBudget } from '../../defenses/pgd-budget';
import { defendConfigWithRuleBudget } from '../../experiments/budget-rule';
import type { DefendConfig } from '../../experiments/defend';
import { defendJobType, type DefendSummary } from '../../experiments/defend-job';
import { JobPool } from '../../jobs/pool';
import { poolProgressSink } from '../../progress';
import { profileData } from '../../train/run';
import { defineCommand } from '../command';
import {
  ATTACK_OPTIONS,
  attackListFrom,
  attackRequestFrom,
  checkWritable,
  cleanSizeFrom,
  DEFAULT_TARGET,
  epsProblem,
  opt,
  type OptValues,
  PGD_FLAGS,
  PGD_OPTIONS,
  pgdSettingsFrom,
  profileFrom,
  required,
  RUN_OPTIONS,
  targetFrom,
  UsageError,
} from '../options';

const DEFEND_OPTIONS = {
  ...RUN_OPTIONS,
  defense: opt.choice('the defense (required)', defenseNames()),
  cleanData: opt.flag("give the defense the clean extra set (PBE's clean-data setting) instead of the training set"),
  noAdversarial: opt.flag('PBE without step 1: progressive fine-tuning on clean batches only (the ablation)'),
  attack: opt.string(`attack(s), comma-separated: ${attackNames().join(', ')} (required)`, 'name[,…]'),
  ...ATTACK_OPTIONS,
  target: opt.int(`target label of all-to-one (default ${DEFAULT_TARGET})`, { min: 0 }),
  defenseOption: opt.keyValues(
    "a defense option instead of its default or the profile's, e.g. epochsFirst=5 or topShares=0.2,0.5 (repeatable; see docs/cli.md, pbe defend)",
  ),
  ...PGD_OPTIONS,
  budgetRule: opt.flag("PGD's norm and ε for each attack by the defender-side rule (pbe budget) on the clean extra set; needs --clean-data"),
  cleanRatio: opt.number(`size of the clean extra set as a share of the training set, in (0, 1] (default ${DEFAULT_CLEAN_RATIO})`, { min: 0 }),
  cleanSize: opt.int('size of the clean extra set in images, instead of --clean-ratio', { min: 1 }),
  seed: opt.int('run seed', { min: 0, default: 0 }),
};

const PGD_SETTING_WORD: Record<keyof PgdSettings, string> = { norm: 'norm', eps: 'ε', iterations: 'iterations', randomStart: 'random start' };

/**
 * The PGD budget's fields a command line gives: the PGD flags, and the budget's option names
 * (`--defense-option pgdEps=…`, PGD_BUDGET_OPTION) taken out of `options`. A flag and an option
 * naming the same field is an error, not a silent choice of one; a defense without a PGD step
 * takes neither.
 */
function pgdBudgetFrom(name: string, options: Record<string, unknown>, flags: PgdSettings): Partial<PgdBudget> {
  const given: Partial<Record<keyof PgdBudget, unknown>> = {};
  for (const [field, option] of Object.entries(PGD_BUDGET_OPTION) as [keyof PgdBudget, string][]) {
    if (!(option in options)) continue;
    given[field] = options[option];
    delete options[option];
  }
  for (const k of Object.keys(flags) as (keyof PgdSettings)[]) {
    if (k in given)
      throw new UsageError(`${PGD_FLAGS[k]} and --defense-option ${PGD_BUDGET_OPTION[k]}= both set PGD's ${PGD_SETTING_WORD[k]}; give one of them`);
    given[k] = flags[k];
  }
  const fields = Object.keys(given) as (keyof PgdBudget)[];
  if (fields.length > 0 && !defenseDefinition(name).pgd) {
    const withPgd = defenseNames().filter((d) => defenseDefinition(d).pgd);
    const first = fields[0];
    const what = first in flags ? PGD_FLAGS[first as keyof PgdSettings] : `--defense-option ${PGD_BUDGET_OPTION[first]}=`;
    throw new UsageError(`${what}: ${name} has no PGD step (the PGD flags apply to ${withPgd.join(', ')})`);
  }
  return given as Partial<PgdBudget>;
}

/** The clean extra set's size as the command line gives it, checked against the defense and each other. */
function cleanSetFrom(o: OptValues<typeof DEFEND_OPTIONS>, name: string, data: 'train' | 'clean' | 'either'): { cleanRatio?: number; cleanSize?: number } {
  if (o.cleanData && data === 'train') throw new UsageError(`--clean-data: ${name} works on the training set and takes no clean extra set`);
  const usesClean = data === 'clean' || (data === 'either' && o.cleanData);
  const flag = o.cleanRatio !== undefined ? '--clean-ratio' : o.cleanSize !== undefined ? '--clean-size' : null;
  if (flag && !usesClean) {
    throw new UsageError(
      `${flag} sizes the clean extra set, which ${name} does not get here: ${data === 'either' ? 'add --clean-data' : `${name} works on the training set`}`,
    );
  }
  return cleanSizeFrom(o);
}

/**
 * The defend runs a command line asks for, one per attack, checked before anything loads; a
 * notebook that builds the same configs reads the same cache entries (see defendKey).
 */
export function defendConfigs(o: OptValues<typeof DEFEND_OPTIONS>): DefendConfig[] {
  const name = required(o.defense, '--defense', defenseNames());
  const attacks = attackListFrom(o.attack);
  const profile = profileFrom(o);
  const target = targetFrom(o, profile.dataset);
  const options: Record<string, unknown> = { ...o.defenseOption };
  // A list option arrives as text ("0.2,0.5") or as one number.
  const def = defenseDefinition(name);
  const defaults = def.defaults;
  for (const [k, v] of Object.entries(options)) {
    if (!Array.isArray(defaults[k])) continue;
    const list = String(v)
      .split(',')
      .map((x) => Number(x.trim()));
    if (list.some((x) => !Number.isFinite(x))) throw new UsageError(`--defense-option ${k}= expects numbers separated by commas, got '${String(v)}'`);
    options[k] = list;
  }
  const pgdFlags = pgdSettingsFrom(o);
  const pgd = pgdBudgetFrom(name, options, pgdFlags);
  // commander reads a `--no-x` flag as the negation of `x`, so the value arrives as `adversarial: false`.
  if (o.noAdversarial || (o as Record<string, unknown>).adversarial === false) {
    if (!('adversarial' in defaults)) throw new UsageError(`--no-adversarial: ${name} has no adversarial step to leave out`);
    if ('adversarial' in options) throw new UsageError('--no-adversarial and --defense-option adversarial= both set the adversarial step; give one of them');
    options.adversarial = false;
  }
  const clean = cleanSetFrom(o, name, def.data);
  if (o.budgetRule) {
    if (!def.pgd) throw new UsageError(`--budget-rule: ${name} has no PGD step to choose a budget for`);
    if (!o.cleanData) throw new UsageError('--budget-rule scores the clean extra set, which the defense gets only with --clean-data');
    const field = (['norm', 'eps'] as const).find((f) => f in pgd);
    if (field) {
      const given = field in pgdFlags ? PGD_FLAGS[field] : `--defense-option ${PGD_BUDGET_OPTION[field]}=`;
      throw new UsageError(`--budget-rule and ${given} both set PGD's ${PGD_SETTING_WORD[field]}; give one of them`);
    }
  }
  // A bad option is reported here, as a usage error, before any job starts.
  let budget: PgdBudget | null;
  try {
    resolveDefenseOptions({ name, profile: profile.profile, options });
    budget = resolveDefensePgd({ name, pgd });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (budget) {
    const problem = epsProblem(budget.norm, budget.eps, profile.dataset);
    if (problem) throw new UsageError(`${pgdFlags.eps !== undefined ? '--eps' : `--defense-option pgdEps=${budget.eps} (with ${budget.norm})`} ${problem}`);
  }
  return attacks.map((attack) => ({
    defense: name,
    options: options as DefendConfig['options'],
    ...(Object.keys(pgd).length > 0 ? { pgd } : {}),
    cleanData: o.cleanData,
    ...clean,
    profile,
    attack: attackRequestFrom(o, attack, target),
    seed: o.seed,
    dataPath: o.path,
  }));
}

/**
 * What needs the dataset loaded: a clean extra set no larger than the profile's training images
 * that the attack leaves unpoisoned, and at least one image.
 */
function checkCleanSize(cfg: DefendConfig, splits: DatasetSplits): void {
  if (cfg.cleanRatio === undefined && cfg.cleanSize === undefined) return;
  const n = profileData(splits, cfg.profile).train.shape[0];
  const unpoisoned = n - Math.round(DEFAULT_POISON_RATIO * n);
  const size = cfg.cleanSize ?? Math.round((cfg.cleanRatio ?? DEFAULT_CLEAN_RATIO) * n);
  const flag = cfg.cleanSize !== undefined ? `--clean-size ${cfg.cleanSize}` : `--clean-ratio ${cfg.cleanRatio} (${size} images)`;
  if (size < 1)
    throw new UsageError(`${flag}: the clean extra set would be empty; profile ${cfg.profile.profile} trains on ${n} ${cfg.profile.dataset} images`);
  if (size > unpoisoned) {
    throw new UsageError(
      `${flag}: profile ${cfg.profile.profile} trains on ${n} ${cfg.profile.dataset} images, of which ${unpoisoned} are unpoisoned and can be clean data`,
    );
  }
}

export const defend = defineCommand({
  name: 'defend',
  summary: 'run a defense on cached infected models (one pool job per attack); print ACC/ASR before and after and the per-iteration log',
  options: DEFEND_OPTIONS,
  async run(o) {
    let cfgs = defendConfigs(o);
    const name = cfgs[0].defense;
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const cache = new Cache();
    checkWritable([], cache.root);
    const splits = await loadDataset(cfgs[0].profile.dataset, { path: o.path, cache });
    for (const cfg of cfgs) checkCleanSize(cfg, splits);
    if (o.budgetRule) cfgs = await withRuleBudgets(cfgs, cache);
    const t0 = Date.now();
    const pool = new JobPool({ backend: o.backend, onProgress: poolProgressSink() });
    let reports: DefendSummary[];
    try {
      reports = await pool.runAll(cfgs.map((cfg) => defendJobType.job({ cfg, cacheRoot: cache.root }, `${name} ${cfg.attack.name}`)));
    } finally {
      await pool.close();
    }
    for (const r of reports) printDefendReport(r);
    console.log(`wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return 0;
  },
});

/** Each config with the budget the rule picks for its model, printed as it is chosen. */
async function withRuleBudgets(cfgs: DefendConfig[], cache: Cache): Promise<DefendConfig[]> {
  const out: DefendConfig[] = [];
  for (const cfg of cfgs) {
    const { cfg: chosen, rule } = await defendConfigWithRuleBudget(cfg, { cache });
    const label = rule.chosen!.label;
    const onTarget = rule.target === null ? '' : label === rule.target ? ', the target' : `, not the target ${rule.target}`;
    console.log(
      `budget rule on ${cfg.attack.name}: ${pgdBudgetText(rule.chosen!)} (${(100 * rule.chosen!.concentration).toFixed(1)}% of its adversarial examples on label ${label}${onTarget})${rule.fromCache ? '  [from cache]' : ''}; ${rule.reportFile}`,
    );
    out.push(chosen);
  }
  return out;
}

const pct = (v: number) => (100 * v).toFixed(2);

function cell(v: number | string | null): string {
  if (v === null) return '-';
  if (typeof v === 'string') return v;
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

/** The before/after table, ACC/ASR at each stage, the defense's own per-stage rows, and where the report went. */
function printDefendReport(r: DefendSummary): void {
  const c = r.config;
  const setting = r.data.clean !== null ? `with a clean extra set of ${r.data.clean} images` : `on the training set (${r.data.train} images)`;
  console.log(
    `\n${c.defense} ${setting}: ${c.attack.name} ${c.attack.mode}${c.attack.mode === 'all2one' ? ` → ${c.attack.target}` : ''} on ${c.profile.dataset}, profile ${c.profile.profile} (${c.profile.arch}), seed ${c.seed}${r.fromCache ? '  [from cache]' : ''}`,
  );
  console.log(`          ACC %    ASR %`);
  console.log(`before  ${pct(r.before.acc).padStart(7)}  ${pct(r.before.asr).padStart(7)}`);
  console.log(`after   ${pct(r.after.acc).padStart(7)}  ${pct(r.after.asr).padStart(7)}`);
  console.log(`per stage, ACC/ASR %: ${r.stages.map((s) => `${s.stage} ${pct(s.acc)}/${pct(s.asr)}`).join(', ')}`);
  const rows = r.analysis?.rows ?? [];
  if (rows.length > 0) {
    const cols = Object.keys(rows[0]);
    const table = [cols, ...rows.map((row) => cols.map((k) => cell(row[k])))];
    const widths = cols.map((_, j) => Math.max(...table.map((t) => t[j].length)));
    for (const t of table) console.log(t.map((v, j) => v.padStart(widths[j])).join('  '));
  }
  for (const e of r.log) console.log(`  ${e.stage}: ${e.message}${e.seconds !== undefined ? ` (${e.seconds.toFixed(0)} s)` : ''}`);
  console.log(`defense ${r.seconds.toFixed(0)} s; report ${r.reportFile}`);
  console.log(`figures: ${Object.values(r.figures).join(', ')}`);
}
