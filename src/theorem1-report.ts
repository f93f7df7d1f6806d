import * as path from 'node:path';
import { runtimeInfo } from './backend';
import { type ModelMeasurement, THEOREM1_TRAIN, type Theorem1Result, type Theorem1Row, type TriggerPattern, theorem1Experiment, theorem1Spec } from './analysis/theorem1';
import type { LinearTrainConfig } from './models/linear-softmax';
import { Cache, cacheRoot, configKey, writeFileAtomic } from './cache';
import { balancedIndices, subset } from './data/dataset';
import { type DatasetName, loadDataset, type LoadOptions } from './data/registry';
import { renderSvg } from './plots/vega';
import { Rng } from './rng';

export interface Theorem1RunConfig {
  dataset: DatasetName;
  pattern: TriggerPattern;
  strengths: number[];
  target: number;
  trainPerClass: number;
  testPerClass: number;
  seed: number;
  /** the linear model's training; default THEOREM1_TRAIN (chosen on MNIST) */
  train?: LinearTrainConfig;
}

/** A row of the experiment without its per-image arrays. */
export interface Theorem1ReportRow {
  strength: number;
  infected: Omit<Theorem1Row['infected'], 'perImage'>;
  benign: Omit<ModelMeasurement, 'perImage'>;
}

export interface Theorem1Report {
  config: Theorem1RunConfig;
  key: string;
  runtime: ReturnType<typeof runtimeInfo>;
  result: Omit<Theorem1Result, 'rows'> & { rows: Theorem1ReportRow[] };
  seconds: number;
  figure: string;
  out: string;
}

/**
 * Theorem 1 on real images: one benign and one infected linear softmax model per trigger norm,
 * trained on a balanced subset of the dataset; writes report.json and the figure (measured share
 * along P, along random directions, for the benign model, and the bound under our reading).
 */
export async function theorem1Report(cfg: Theorem1RunConfig, opts: { data?: LoadOptions; cache?: Cache; outDir?: string } = {}): Promise<Theorem1Report> {
  const key = configKey({ kind: 'theorem1', cfg });
  const outDir = opts.outDir ?? path.join(cacheRoot(), 'results', 'theorem1', `${cfg.dataset}-${cfg.pattern}-${key}`);
  const splits = await loadDataset(cfg.dataset, { ...opts.data, cache: opts.cache ?? opts.data?.cache ?? new Cache() });
  const train = subset(splits.train, balancedIndices(splits.train, cfg.trainPerClass));
  const test = subset(splits.test, balancedIndices(splits.test, cfg.testPerClass));
  const t0 = Date.now();
  const result = theorem1Experiment(train, test, {
    strengths: cfg.strengths,
    pattern: cfg.pattern,
    target: cfg.target,
    train: cfg.train ?? THEOREM1_TRAIN,
    rng: new Rng(cfg.seed).fork('theorem1'),
  });
  const seconds = (Date.now() - t0) / 1000;
  const spec = theorem1Spec(result);
  const figure = path.join(outDir, 'theorem1.svg');
  writeFileAtomic(figure, await renderSvg(spec));
  writeFileAtomic(path.join(outDir, 'theorem1.vl.json'), JSON.stringify(spec));
  const rows = result.rows.map(({ strength, infected: { perImage: _i, ...infected }, benign: { perImage: _b, ...benign } }): Theorem1ReportRow => ({ strength, infected, benign }));
  const report: Theorem1Report = { config: cfg, key, runtime: runtimeInfo(), result: { ...result, rows }, seconds, figure, out: outDir };
  writeFileAtomic(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2));
  return report;
}
