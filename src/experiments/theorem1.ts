import { runtimeInfo } from '../backend';
import {
  type ModelMeasurement,
  THEOREM1_TRAIN,
  type Theorem1Result,
  type Theorem1Row,
  type TriggerPattern,
  theorem1Experiment,
  theorem1Spec,
} from '../analysis/theorem1';
import type { LinearTrainConfig } from '../models/linear-softmax';
import { balancedIndices, subset } from '../data/dataset';
import { type DatasetName, datasetLocation, loadDataset, type LoadOptions } from '../data/registry';
import { Rng } from '../rng';
import { cachedExperiment, experimentContext, type ExperimentOptions, type FigureSpecs, type ReportHeader, resultOutput, storedResult } from './output';

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

export interface Theorem1Report extends ReportHeader<Theorem1RunConfig> {
  result: Omit<Theorem1Result, 'rows'> & { rows: Theorem1ReportRow[] };
  seconds: number;
  figure: string;
  out: string;
}

/** The report as written to report.json, the figure's Vega-Lite spec, and whether the cache held it. */
export type Theorem1ReportResult = Theorem1Report & { specs: FigureSpecs; fromCache: boolean };

/**
 * Theorem 1 on real images: one benign and one infected linear softmax model per trigger norm,
 * trained on a balanced subset of the dataset; writes report.json and the figure (measured share
 * along P, along random directions, for the benign model, and the bound under our reading). The
 * result is kept in the cache under its config and the data's location, so a second call reads it.
 */
export async function theorem1Report(
  cfg: Theorem1RunConfig,
  opts: Pick<ExperimentOptions, 'cache'> & { data?: Omit<LoadOptions, 'cache'>; outDir?: string } = {},
): Promise<Theorem1ReportResult> {
  const { cache } = experimentContext(opts);
  const key = { kind: 'theorem1', cfg, dataPath: datasetLocation(cfg.dataset, opts.data?.path) };
  const out = resultOutput(cache, { key, folder: 'theorem1', name: `${cfg.dataset}-${cfg.pattern}`, outDir: opts.outDir });
  return cachedExperiment<Theorem1ReportResult>(cache, {
    kind: 'theorem1',
    key,
    what: `Theorem 1 on ${cfg.dataset}`,
    restore: async (entry) => {
      const { specs, ...stored } = JSON.parse(entry.read('report.json').toString()) as Theorem1Report & { specs: FigureSpecs };
      const { theorem1: figure } = await out.writeFigures(specs);
      return { ...out.writeReport({ ...stored, figure, out: out.dir }), specs, fromCache: true };
    },
    compute: async (store) => {
      const splits = await loadDataset(cfg.dataset, { ...opts.data, cache });
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
      const specs = { theorem1: theorem1Spec(result) };
      const { theorem1: figure } = await out.writeFigures(specs);
      const rows = result.rows.map(({ strength, infected: { perImage: _i, ...infected }, benign: { perImage: _b, ...benign } }): Theorem1ReportRow => ({
        strength,
        infected,
        benign,
      }));
      const report: Theorem1Report = { config: cfg, key: out.key, runtime: runtimeInfo(), result: { ...result, rows }, seconds, figure, out: out.dir };
      await store({ contents: storedResult(report, specs), meta: { experiment: 'theorem1', dataset: cfg.dataset } });
      return { ...out.writeReport(report), specs, fromCache: false };
    },
  });
}
