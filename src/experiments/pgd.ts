import { runtimeInfo } from '../backend';
import {
  adversarialLabelDistribution,
  type AdversarialLabelDistribution,
  benignMatrix,
  labelMatrixSpec,
  summarizeMatrix,
  type MatrixSummary,
} from '../analysis/label-matrix';
import { type PgdConfig, validatePgd } from '../attacks/adversarial/pgd';
import { balancedIndices, subset } from '../data/dataset';
import { loadDataset, type LoadOptions } from '../data/registry';
import { Rng } from '../rng';
import type { ResolvedProfile } from '../train/profiles';
import { profileData, trainBenign } from '../train/run';
import { experimentContext, type ExperimentOptions, type FigureSpecs, type ReportHeader, resultOutput } from './output';

export interface AdversarialEvalConfig {
  profile: ResolvedProfile;
  seed: number;
  pgd: PgdConfig;
  /** test images attacked, balanced over classes, from the full test split; null = all of it */
  images: number | null;
  batchSize: number;
}

export interface AdversarialEvalReport extends ReportHeader<AdversarialEvalConfig> {
  model: { arch: string; cleanAccuracy: number; modelKey: string };
  images: number;
  cleanAccuracy: number;
  /** accuracy on the adversarial examples */
  robustAccuracy: number;
  distribution: AdversarialLabelDistribution;
  /** the label spread of Fig. 1a: per true class, where the adversarial examples go */
  spread: MatrixSummary;
  /** wall time of the attack alone (clean predictions included), not of loading or training */
  seconds: number;
  out: string;
}

/**
 * The report as written (one JSON file), and the label spread's Vega-Lite spec (Fig. 1a), which
 * is not written: the report holds its numbers.
 */
export type AdversarialEvalResult = AdversarialEvalReport & { specs: FigureSpecs };

/**
 * Attacks the profile's benign model (trained or found in the cache) with PGD/FGSM over test
 * images and reports where the adversarial examples land and how long the attack took. The report
 * is written under results/adversarial/ in the cache with its config, backend and versions.
 */
export async function evaluateAdversarial(
  cfg: AdversarialEvalConfig,
  opts: ExperimentOptions & { data?: Omit<LoadOptions, 'cache'>; out?: string } = {},
): Promise<AdversarialEvalResult> {
  validatePgd(cfg.pgd);
  if (cfg.images !== null && !(Number.isInteger(cfg.images) && cfg.images > 0))
    throw new Error(`images: expected a positive integer or null (all), got ${cfg.images}`);
  const { cache, progress } = experimentContext(opts);
  const full = await loadDataset(cfg.profile.dataset, { ...opts.data, cache });
  const benign = await trainBenign(cfg.profile, { seed: cfg.seed, cache, splits: profileData(full, cfg.profile), progress });
  try {
    const n = Math.min(cfg.images ?? full.test.shape[0], full.test.shape[0]);
    const perClass = Math.ceil(n / full.test.classNames.length);
    const images = n === full.test.shape[0] ? full.test : subset(full.test, balancedIndices(full.test, perClass).slice(0, n), `${full.test.name}-adversarial`);
    const t0 = Date.now();
    const distribution = adversarialLabelDistribution(benign.model, images, cfg.pgd, {
      batchSize: cfg.batchSize,
      rng: new Rng(cfg.seed).fork('adversarial'),
      progress,
    });
    const seconds = (Date.now() - t0) / 1000;
    const out = resultOutput(cache, {
      key: { kind: 'adversarial-eval', cfg, model: benign.record.key },
      folder: 'adversarial',
      name: `${cfg.profile.dataset}-${attackName(cfg.pgd)}`,
      singleFile: true,
      reportFile: opts.out,
    });
    const spread = benignMatrix(distribution);
    const report: AdversarialEvalReport = {
      config: cfg,
      key: out.key,
      runtime: runtimeInfo(),
      model: { arch: cfg.profile.arch, cleanAccuracy: benign.record.cleanAccuracy, modelKey: benign.record.key },
      images: images.shape[0],
      cleanAccuracy: distribution.cleanCorrect / distribution.total,
      robustAccuracy: (distribution.total - distribution.misclassified) / distribution.total,
      distribution,
      spread: summarizeMatrix(spread),
      seconds,
      out: out.reportFile,
    };
    return { ...out.writeReport(report), specs: { 'label-spread': labelMatrixSpec(spread) } };
  } finally {
    benign.model.dispose();
  }
}

function attackName(cfg: PgdConfig): string {
  return cfg.iterations === 1 && cfg.step === cfg.eps && cfg.norm === 'linf' && !cfg.randomStart ? 'fgsm' : `pgd-${cfg.norm}`;
}
