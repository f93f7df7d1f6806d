import { attackNames } from '../../attacks/backdoor/registry';
import { stampOrderOf } from '../../attacks/backdoor/stamping';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import { loadDataset } from '../../data/registry';
import { defenseDefinition, defenseNames, resolveDefenseOptions } from '../../defenses';
import type { DefendConfig } from '../../experiments/defend';
import { defendJobType, type DefendSummary } from '../../experiments/defend-job';
import { JobPool } from '../../jobs/pool';
import { poolProgressSink } from '../../progress';
import { defineCommand } from '../command';
import { ATTACK_OPTIONS, oneOf, opt, type OptValues, PGD_OPTIONS, profileFrom, required, RUN_OPTIONS, UsageError } from '../options';

const DEFEND_OPTIONS = {
  ...RUN_OPTIONS,
  defense: opt.choice('the defense (required)', defenseNames()),
  cleanData: opt.flag("give the defense the clean extra set (PBE's setting A) instead of the training set"),
  noAdversarial: opt.flag('PBE without step 1: progressive fine-tuning on clean batches only (the ablation)'),
  attack: opt.string(`attack(s), comma-separated: ${attackNames().join(', ')} (required)`, 'name[,…]'),
  ...ATTACK_OPTIONS,
  target: opt.int('target label of all-to-one', { min: 0, default: 0 }),
  defenseOption: opt.keyValues("a defense option instead of its default or the profile's, e.g. epochsFirst=5 or topShares=0.2,0.5 (repeatable; see the README)"),
  ...PGD_OPTIONS,
  cleanRatio: opt.number('size of the clean extra set as a share of the training set (default 0.05)', { min: 0 }),
  cleanSize: opt.int('size of the clean extra set in images, instead of --clean-ratio', { min: 1 }),
  seed: opt.int('run seed', { min: 0, default: 0 }),
};

/**
 * The defend runs a command line asks for, one per attack, checked before anything loads; a
 * notebook that builds the same configs reads the same cache entries (see defendKey).
 */
export function defendConfigs(o: OptValues<typeof DEFEND_OPTIONS>): DefendConfig[] {
  const name = required(o.defense, '--defense', defenseNames());
  const attacks = required(o.attack, '--attack').split(',').filter((s) => s !== '');
  if (attacks.length === 0) required(undefined, '--attack');
  for (const a of attacks) oneOf(a, attackNames(), '--attack');
  const options: Record<string, unknown> = { ...o.defenseOption };
  // A list option arrives as text ("0.2,0.5") or as one number.
  const defaults = defenseDefinition(name).defaults;
  for (const [k, v] of Object.entries(options)) {
    if (!Array.isArray(defaults[k])) continue;
    const list = String(v).split(',').map((x) => Number(x.trim()));
    if (list.some((x) => !Number.isFinite(x))) throw new UsageError(`--defense-option ${k}= expects numbers separated by commas, got '${String(v)}'`);
    options[k] = list;
  }
  // The PGD budget is a defense option; the PGD flags are its shorthands.
  if (o.eps !== undefined || o.iterations !== undefined || o.randomStart || o.norm !== 'linf') {
    const eps = o.eps ?? (o.norm === 'linf' ? 6 / 255 : 0.5);
    Object.assign(options, { pgdNorm: o.norm, pgdEps: eps, ...(o.iterations !== undefined ? { pgdIterations: o.iterations } : {}), pgdRandomStart: o.randomStart });
  }
  // commander reads a `--no-x` flag as the negation of `x`, so the value arrives as `adversarial: false`.
  if (o.noAdversarial || (o as Record<string, unknown>).adversarial === false) options.adversarial = false;
  const profile = profileFrom(o);
  // A bad option is reported here, as a usage error, before any job starts.
  try {
    resolveDefenseOptions({ name, profile: profile.profile, options });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return attacks.map((attack) => ({
    defense: name,
    options: options as DefendConfig['options'],
    cleanData: o.cleanData,
    cleanRatio: o.cleanRatio,
    cleanSize: o.cleanSize,
    profile,
    attack: { name: attack, mode: o.mode, target: o.target, options: o.option, stamp: stampOrderOf({ name: attack, stamp: o.stamp }) },
    seed: o.seed,
    dataPath: o.path,
  }));
}

export const defend = defineCommand({
  name: 'defend',
  summary: 'run a defense on cached infected models (one pool job per attack); print ACC/ASR before and after and the per-iteration log',
  options: DEFEND_OPTIONS,
  async run(o) {
    const cfgs = defendConfigs(o);
    const name = cfgs[0].defense;
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const cache = new Cache();
    await loadDataset(cfgs[0].profile.dataset, { path: o.path, cache });
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
  console.log(`\n${c.defense} ${setting}: ${c.attack.name} ${c.attack.mode}${c.attack.mode === 'all2one' ? ` → ${c.attack.target}` : ''} on ${c.profile.dataset}, profile ${c.profile.profile} (${c.profile.arch}), seed ${c.seed}${r.fromCache ? '  [from cache]' : ''}`);
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
