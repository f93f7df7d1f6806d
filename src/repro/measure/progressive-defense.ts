import { pbeDetails, type PbeIterationMetrics, pbeIterations } from '../../analysis/pbe-ranking';
import { defend, type DefendConfig, type DefendResult } from '../../experiments/defend';
import { defendOnPool } from '../../experiments/defend-job';
import type { Cache } from '../../cache';
import { FIG6_AVERAGE_PRECISION, FIG7, paperCell, type PaperAttack, TABLE1 } from '../../paper/numbers';
import { pct } from '../format';
import type { ReproSettings } from '../settings';

/**
 * Fig. 6/7's run at a scale: the config `pbe defend --defense pbe --attack <attack> --dataset
 * <dataset> --profile <profile> [--clean-data]` builds (with the scale's option overrides, none
 * at `cpu`), so that the notebook and the command read one cache entry.
 */
export function progressiveDefendConfig(s: ReproSettings, cleanData: boolean, seed: number): DefendConfig {
  return {
    defense: 'pbe',
    options: s.defense.options.pbe ?? {},
    ...(Object.keys(s.defense.pgd).length > 0 ? { pgd: s.defense.pgd } : {}),
    cleanData,
    profile: s.training,
    attack: { name: s.defense.progressiveAttack.name, mode: 'all2one', target: 0, options: {} },
    seed,
  };
}

/** What Fig. 6 and 7 are read by: ASR and ACC before, after the first and after the last iteration; AP of the ranking after the first and the last. */
export interface ProgressiveSummary {
  iterations: number;
  before: { acc: number; asr: number };
  first: { acc: number; asr: number };
  last: { acc: number; asr: number };
  /** null with clean data (the clean-data setting ranks nothing) */
  apPoisoned: { first: number; last: number } | null;
  apClean: { first: number; last: number } | null;
  /** the chance level of apPoisoned */
  poisonedShare: number | null;
}

export function progressiveSummary(r: DefendResult): ProgressiveSummary {
  const rows = pbeIterations(r);
  if (r.stages.length < 2) throw new Error(`${r.config.defense}: no iteration was measured (stages: ${r.stages.map((s) => s.stage).join(', ')})`);
  const at = ({ acc, asr }: { acc: number; asr: number }) => ({ acc, asr });
  const ap = (k: 'apPoisoned' | 'apClean') => {
    const v = rows.map((row) => row[k]).filter((x): x is number => x !== null);
    return v.length > 0 ? { first: v[0], last: v[v.length - 1] } : null;
  };
  return {
    iterations: r.stages.length - 1,
    before: at(r.stages[0]),
    first: at(r.stages[1]),
    last: at(r.stages[r.stages.length - 1]),
    apPoisoned: ap('apPoisoned'),
    apClean: ap('apClean'),
    poisonedShare: pbeDetails(r)?.poisonedShare ?? null,
  };
}

/** 06-progressive-defense: PBE on the scale's attack in its progressive setting (Fig. 6/7) and its clean-data setting (Table 1's last column). */
export interface ProgressiveDefenseValues {
  attack: string;
  options: ReproSettings['defense']['options'];
  pgd: ReproSettings['defense']['pgd'];
  /** the summary with `iterations` as the per-iteration rows (their count is stages.length − 1) */
  withoutClean: Omit<ProgressiveSummary, 'iterations'> & {
    stages: DefendResult['stages'];
    iterations: PbeIterationMetrics[];
    seconds: number;
    fromCache: boolean;
    key: string;
  };
  withClean: ProgressiveSummary & { cleanImages: number | null; seconds: number; fromCache: boolean; key: string };
  metrics: {
    /** ASR after iteration 1 ÷ ASR of the infected model, without clean data */
    asrFirstOverBefore: number;
    /** ACC after the last iteration − ACC after iteration 1, without clean data */
    accLastMinusFirst: number;
    /** AP of the ranking for finding poisoned images, last iteration − first; null when no iteration ranked */
    apPoisonedLastMinusFirst: number | null;
    /** ASR after PBE with clean data */
    withCleanAsr: number;
  };
}

export interface ProgressiveDefense {
  values: ProgressiveDefenseValues;
  /** the two defend runs, for their figures */
  without: DefendResult;
  withClean: DefendResult;
}

export async function measureProgressiveDefense(s: ReproSettings, seed: number, opts: { cache?: Cache } = {}): Promise<ProgressiveDefense> {
  const configs = { without: progressiveDefendConfig(s, false, seed), withClean: progressiveDefendConfig(s, true, seed) };
  // Both runs at once on the pool, then each read back here with its intermediate results and figures.
  await defendOnPool(
    [
      { cfg: configs.without, label: 'PBE without clean data' },
      { cfg: configs.withClean, label: 'PBE with clean data' },
    ],
    opts,
  );
  const without = await defend(configs.without, opts);
  const withClean = await defend(configs.withClean, opts);
  const b = progressiveSummary(without);
  const a = progressiveSummary(withClean);
  return {
    values: {
      attack: s.defense.progressiveAttack.name,
      options: s.defense.options,
      pgd: s.defense.pgd,
      withoutClean: {
        ...b,
        stages: without.stages,
        iterations: pbeIterations(without),
        seconds: without.seconds,
        fromCache: without.fromCache,
        key: without.key,
      },
      withClean: { ...a, cleanImages: withClean.data.clean, seconds: withClean.seconds, fromCache: withClean.fromCache, key: withClean.key },
      metrics: {
        asrFirstOverBefore: b.first.asr / b.before.asr,
        accLastMinusFirst: b.last.acc - b.first.acc,
        apPoisonedLastMinusFirst: b.apPoisoned ? b.apPoisoned.last - b.apPoisoned.first : null,
        withCleanAsr: a.last.asr,
      },
    },
    without,
    withClean,
  };
}

const ran = (r: DefendResult) => (r.fromCache ? 'read from the cache' : `computed in ${r.seconds.toFixed(0)} s`);

export function progressiveRunReading(m: ProgressiveDefense, s: ReproSettings): string {
  const attack = s.defense.progressiveAttack;
  const said = ran(m.without);
  return `${attack.name} all-to-one → 0 (${attack.why}); ${s.defense.optionsWhy}. ${said[0].toUpperCase()}${said.slice(1)} (defend run ${m.without.key}).`;
}

export function fig7Reading(v: ProgressiveDefenseValues): string {
  const b = v.withoutClean;
  const paper = paperCell(TABLE1, v.attack as PaperAttack, 'pbeWithoutClean');
  return `Fig. 7: ${FIG7.statement}. Measured: ASR ${pct(b.before.asr)} → ${pct(b.first.asr)} after the first iteration → ${pct(b.last.asr)} after the last (${b.stages.length - 1}); ACC ${pct(b.before.acc)} → ${pct(b.first.acc)} → ${pct(b.last.acc)}. Table 1 prints ${paper.acc}% / ${paper.asr}% (ACC/ASR) for PBE without clean data on ${v.attack}.`;
}

export function fig6Reading(v: ProgressiveDefenseValues): string {
  const b = v.withoutClean;
  const fig6 = FIG6_AVERAGE_PRECISION;
  return `The paper: average precision rises from ${fig6.first} to ${fig6.last} over the iterations (${fig6.attack}, CIFAR-10). With 90% of the training set clean, an AP of ${fig6.first} is impossible for finding clean images (chance is 0.9), so we read Fig. 6 as finding poisoned images (chance = their share, ${b.poisonedShare === null ? '–' : pct(b.poisonedShare)}). Measured: poisoned ${b.apPoisoned ? `${b.apPoisoned.first.toFixed(3)} → ${b.apPoisoned.last.toFixed(3)}` : '–'}, clean ${b.apClean ? `${b.apClean.first.toFixed(3)} → ${b.apClean.last.toFixed(3)}` : '–'}.`;
}

export function withCleanReading(m: ProgressiveDefense): string {
  const { attack, withClean: a } = m.values;
  const paperBefore = paperCell(TABLE1, attack as PaperAttack, 'before');
  const paperWith = paperCell(TABLE1, attack as PaperAttack, 'pbeWithClean');
  return `With clean data the paper brings ${attack}'s ASR from ${paperBefore.asr}% to ${paperWith.asr}% and loses ${(paperBefore.acc - paperWith.acc).toFixed(2)} points of ACC. Measured: ASR ${pct(a.before.asr)} → ${pct(a.last.asr)}, ACC ${pct(a.before.acc)} → ${pct(a.last.acc)} (${((a.before.acc - a.last.acc) * 100).toFixed(2)} points lost); ${ran(m.withClean)}.`;
}
