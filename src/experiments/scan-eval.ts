import type { PgdConfig } from '../attacks/adversarial/pgd';
import type { LabelScore } from '../analysis/scan';
import type { AttackRequest } from '../attacks/backdoor/attack';
import { Cache } from '../cache';
import { loadDataset } from '../data/registry';
import { anomalyIndices } from '../defenses/anomaly-index';
import { type NeuralCleanseOptions, reverseEngineer, reverseSettings } from '../defenses/neural-cleanse';
import { resolveDefenseOptions } from '../defenses/registry';
import { type VegaLiteSpec, vegaLite } from '../plots/vega';
import type { PoolProgressSink, ProgressSink } from '../progress';
import { type JobContext, JobPool, jobType } from '../jobs/pool';
import { requestLabel } from './training';
import { Rng } from '../rng';
import type { ProfileName, ResolvedProfile } from '../train/profiles';
import { loadScanModel, type LoadedModel, type ModelTruth, scanModel, type ScanModelSource, scanSample, type StoredScan } from './scan';

/** Neural Cleanse's test alone: one reversed trigger per class on the scan's sample, then the MAD index of their norms. */
export interface NcDetection {
  norms: number[];
  /** the anomaly index of the smallest norm (NC's detection score) */
  anomalyIndex: number;
  flagged: number[];
  /** the class of the smallest norm: NC's suspected target */
  suspectedTarget: number;
  seconds: number;
}

/**
 * Reverse-engineers a trigger for every class on the same unlabelled sample the scan attacks, with
 * NC's settings of `profile`, and scores the norms; cached under the model's weights and settings.
 */
export async function neuralCleanseDetect(
  loaded: LoadedModel,
  cfg: { profile: ProfileName; images: number; seed: number; dataPath?: string },
  opts: { cache: Cache; progress?: ProgressSink },
): Promise<NcDetection> {
  const o = resolveDefenseOptions({ name: 'nc', profile: cfg.profile }) as NeuralCleanseOptions;
  const settings = reverseSettings(o);
  const key = {
    kind: 'nc-detection',
    weights: loaded.weights,
    dataset: loaded.dataset,
    settings,
    threshold: o.anomalyThreshold,
    images: cfg.images,
    seed: cfg.seed,
  };
  const cached = opts.cache.get('scans', key);
  if (cached) return JSON.parse(cached.read('nc.json').toString()) as NcDetection;
  const full = await loadDataset(loaded.dataset, { path: cfg.dataPath, cache: opts.cache });
  const sample = scanSample(full.test, cfg.images, cfg.seed);
  const t0 = Date.now();
  const norms: number[] = [];
  for (let k = 0; k < loaded.model.config.numClasses; k++)
    norms.push(reverseEngineer(loaded.model, sample, k, settings, new Rng(cfg.seed).fork(`nc-detect/class-${k}`)).norm);
  const report = anomalyIndices(norms, o.anomalyThreshold);
  const result: NcDetection = {
    norms,
    anomalyIndex: report.anomalyIndex,
    flagged: report.flagged,
    suspectedTarget: norms.indexOf(Math.min(...norms)),
    seconds: (Date.now() - t0) / 1000,
  };
  await opts.cache.put('scans', key, { 'nc.json': JSON.stringify(result) }, { keepExisting: true });
  return result;
}

export interface ScanEvalConfig {
  /** models trained by a profile (seeds × attacks, benign included per seed), or model folders */
  models: { profile: ResolvedProfile; seeds: number[]; attacks: AttackRequest[] } | { checkpoints: string[] };
  pgd: PgdConfig;
  images: number;
  /** the sample's and PGD's seed */
  sampleSeed: number;
  threshold?: number;
  /** run Neural Cleanse's test beside the scan, with NC's settings of this profile */
  nc: ProfileName | null;
  dataPath?: string;
}

export interface ScanEvalRow {
  label: string;
  truth: ModelTruth;
  acc: number | null;
  asr: number | null;
  scan: {
    score: number;
    verdict: string;
    suspectedTarget: number | null;
    topLabel: number;
    bestShift: number;
    seconds: number;
    labels: LabelScore[];
    threshold: number;
  };
  nc: { score: number; flagged: number[]; suspectedTarget: number; seconds: number } | null;
}

export interface RocPoint {
  threshold: number;
  fpr: number;
  tpr: number;
}

/** One detector against one attack: infected models of that attack against every benign model. */
export interface DetectorSummary {
  detector: 'scan' | 'nc';
  attack: string;
  infected: number;
  benign: number;
  /** area under the ROC curve: the chance an infected model scores above a benign one (ties half) */
  auc: number;
  /** all-to-one models whose top-ranked label is the target, over all-to-one models; null without any */
  targetAccuracy: number | null;
  /** flagged infected models at the detector's own threshold */
  truePositiveRate: number;
  /** flagged benign models at the detector's own threshold */
  falsePositiveRate: number;
  roc: RocPoint[];
}

export interface ScanEvalReport {
  rows: ScanEvalRow[];
  summaries: DetectorSummary[];
  secondsPerModel: { scan: number; nc: number | null };
}

/** Mann–Whitney's AUC of scores (Infinity allowed): positives above negatives, ties counted half. */
export function rocAuc(positives: readonly number[], negatives: readonly number[]): number {
  if (positives.length === 0 || negatives.length === 0) throw new Error('rocAuc: needs at least one positive and one negative score');
  let wins = 0;
  for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (positives.length * negatives.length);
}

/** The ROC curve: one point per distinct score used as threshold (score ≥ threshold flags), from (0, 0) to (1, 1). */
export function rocCurve(positives: readonly number[], negatives: readonly number[]): RocPoint[] {
  const thresholds = [...new Set([...positives, ...negatives])].sort((a, b) => b - a);
  const rate = (xs: readonly number[], t: number) => xs.filter((x) => x >= t).length / xs.length;
  return [{ threshold: Infinity, fpr: 0, tpr: 0 }, ...thresholds.map((t) => ({ threshold: t, fpr: rate(negatives, t), tpr: rate(positives, t) }))].map((p) =>
    Number.isFinite(p.threshold) ? p : { ...p, threshold: Number.MAX_VALUE },
  );
}

function summarize(rows: ScanEvalRow[], detector: 'scan' | 'nc', attack: string, thresholdOf: (r: ScanEvalRow) => boolean): DetectorSummary {
  const scoreOf = (r: ScanEvalRow) => (detector === 'scan' ? r.scan.score : r.nc!.score);
  const isAttack = (r: ScanEvalRow) => r.truth.kind === 'infected' && (attack === 'all' || truthKey(r.truth) === attack);
  const infected = rows.filter(isAttack);
  const benign = rows.filter((r) => r.truth.kind === 'benign');
  const pos = infected.map(scoreOf);
  const neg = benign.map(scoreOf);
  const allToOne = infected.filter((r) => r.truth.kind === 'infected' && r.truth.mode === 'all2one');
  const topOf = (r: ScanEvalRow) => (detector === 'scan' ? r.scan.topLabel : r.nc!.suspectedTarget);
  const hits = allToOne.filter((r) => r.truth.kind === 'infected' && topOf(r) === r.truth.target).length;
  return {
    detector,
    attack,
    infected: infected.length,
    benign: benign.length,
    auc: rocAuc(pos, neg),
    targetAccuracy: allToOne.length > 0 ? hits / allToOne.length : null,
    truePositiveRate: infected.filter(thresholdOf).length / infected.length,
    falsePositiveRate: benign.filter(thresholdOf).length / benign.length,
    roc: rocCurve(pos, neg),
  };
}

/** An attack as the summaries group it: all-to-all apart from all-to-one. */
function truthKey(t: ModelTruth): string {
  return t.kind === 'benign' ? 'benign' : t.mode === 'all2all' ? `${t.attack}-all2all` : t.attack;
}

function sources(cfg: ScanEvalConfig): ScanModelSource[] {
  if ('checkpoints' in cfg.models) return cfg.models.checkpoints.map((dir) => ({ kind: 'checkpoint', dir }));
  const { profile, seeds, attacks } = cfg.models;
  return seeds.flatMap((seed) => [
    { kind: 'profile', profile, seed } as ScanModelSource,
    ...attacks.map((attack) => ({ kind: 'profile', profile, seed, attack }) as ScanModelSource),
  ]);
}

/** One model of the population: loaded (trained first if it is not cached), scanned, and tested by Neural Cleanse when asked. */
async function scanEvalRow(source: ScanModelSource, cfg: ScanEvalConfig, cache: Cache, progress?: ProgressSink): Promise<ScanEvalRow> {
  const loaded = await loadScanModel(source, { cache, dataPath: cfg.dataPath, progress });
  try {
    if (!loaded.truth) throw new Error(`scan-eval: ${loaded.label}: its record does not say whether it is benign or infected`);
    const s: StoredScan = await scanModel(
      loaded,
      { pgd: cfg.pgd, images: cfg.images, seed: cfg.sampleSeed, threshold: cfg.threshold, dataPath: cfg.dataPath },
      { cache, progress },
    );
    const top = s.labels.reduce((a, b) => (b.score > a.score ? b : a));
    const nc = cfg.nc
      ? await neuralCleanseDetect(loaded, { profile: cfg.nc, images: cfg.images, seed: cfg.sampleSeed, dataPath: cfg.dataPath }, { cache, progress })
      : null;
    return {
      label: loaded.label,
      truth: loaded.truth,
      acc: loaded.metrics?.acc ?? null,
      asr: loaded.metrics?.asr ?? null,
      scan: {
        score: s.score,
        verdict: s.verdict,
        suspectedTarget: s.suspectedTarget,
        topLabel: top.label,
        bestShift: s.bestShift.shift,
        seconds: s.seconds,
        labels: s.labels,
        threshold: s.threshold,
      },
      nc: nc && { score: nc.anomalyIndex, flagged: nc.flagged, suspectedTarget: nc.suspectedTarget, seconds: nc.seconds },
    };
  } finally {
    loaded.model.dispose();
  }
}

/** Pool job: one model's row, computed on a worker (a Cache cannot cross to it: its folder does). */
export async function scanEvalRowJob(args: { source: ScanModelSource; cfg: ScanEvalConfig; cacheRoot: string }, ctx: JobContext): Promise<ScanEvalRow> {
  return scanEvalRow(args.source, args.cfg, new Cache(args.cacheRoot), (u) => ctx.progress(u));
}

export const scanEvalRowJobType = jobType(__filename, scanEvalRowJob);

const sourceLabel = (s: ScanModelSource): string => (s.kind === 'checkpoint' ? s.dir : `${s.attack ? requestLabel(s.attack) : 'benign'} seed ${s.seed}`);

/**
 * Scans every model of the population (and runs Neural Cleanse's test on it when asked), then
 * scores both detectors per attack: ROC and AUC of infected against benign models, target
 * identification, seconds per model. Models of unknown kind are refused: they cannot be scored.
 */
export async function evaluateScan(
  cfg: ScanEvalConfig,
  opts: { cache?: Cache; progress?: ProgressSink; log?: (line: string) => void; workers?: number; backend?: string; onProgress?: PoolProgressSink } = {},
): Promise<ScanEvalReport> {
  const cache = opts.cache ?? new Cache();
  const list = sources(cfg);
  if (list.length === 0) throw new Error('scan-eval: no models to evaluate');
  const logRow = (row: ScanEvalRow) =>
    opts.log?.(
      `${row.label.padEnd(28)} scan ${row.scan.score.toFixed(2).padStart(7)} ${row.scan.verdict}${row.scan.suspectedTarget !== null ? ` → ${row.scan.suspectedTarget}` : ''} (${row.scan.seconds.toFixed(1)} s)` +
        (row.nc
          ? `   nc ${row.nc.score.toFixed(2).padStart(6)} min-norm class ${row.nc.suspectedTarget} flagged [${row.nc.flagged.join(',')}] (${row.nc.seconds.toFixed(1)} s)`
          : ''),
    );
  const rows: ScanEvalRow[] = [];
  if ((opts.workers ?? 1) > 1) {
    // Each model on a worker of its own (its scan and NC's reversal on one core, so their seconds compare); rows in the population's order.
    const pool = new JobPool({ workers: opts.workers, backend: opts.backend, onProgress: opts.onProgress });
    try {
      const done = await Promise.all(
        list.map(async (source) => {
          const row = await pool.run(scanEvalRowJobType.job({ source, cfg, cacheRoot: cache.root }, sourceLabel(source)));
          logRow(row);
          return row;
        }),
      );
      rows.push(...done);
    } finally {
      await pool.close();
    }
  } else {
    for (const source of list) {
      const row = await scanEvalRow(source, cfg, cache, opts.progress);
      logRow(row);
      rows.push(row);
    }
  }
  if (!rows.some((r) => r.truth.kind === 'benign') || !rows.some((r) => r.truth.kind === 'infected'))
    throw new Error('scan-eval: the population needs benign and infected models for a ROC curve');
  const attacks = ['all', ...new Set(rows.filter((r) => r.truth.kind === 'infected').map((r) => truthKey(r.truth)))];
  const summaries = attacks.flatMap((a) => [
    summarize(rows, 'scan', a, (r) => r.scan.verdict !== 'benign'),
    ...(cfg.nc ? [summarize(rows, 'nc', a, (r) => r.nc!.flagged.length > 0)] : []),
  ]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { rows, summaries, secondsPerModel: { scan: mean(rows.map((r) => r.scan.seconds)), nc: cfg.nc ? mean(rows.map((r) => r.nc!.seconds)) : null } };
}

/** ROC curves of both detectors over all infected models: notebook 08's first figure. */
export function rocSpec(report: ScanEvalReport, title: string): VegaLiteSpec {
  const values = report.summaries
    .filter((s) => s.attack === 'all')
    .flatMap((s) =>
      s.roc.map((p) => ({ detector: `${s.detector === 'scan' ? 'adversarial scan' : 'Neural Cleanse'} (AUC ${s.auc.toFixed(2)})`, fpr: p.fpr, tpr: p.tpr })),
    );
  return vegaLite({
    title,
    width: 260,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true, interpolate: 'step-after' },
    encoding: {
      x: { field: 'fpr', type: 'quantitative', title: 'false positive rate (benign models flagged)', scale: { domain: [0, 1] } },
      y: { field: 'tpr', type: 'quantitative', title: 'true positive rate (infected models flagged)', scale: { domain: [0, 1] } },
      color: { field: 'detector', type: 'nominal' },
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}
