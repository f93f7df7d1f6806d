import * as path from 'node:path';
import { runtimeInfo } from '../../backend';
import { Cache, cacheRoot, configKey, writeFileAtomic } from '../../cache';
import { adversarialLabelDistribution, type AdversarialLabelDistribution, benignMatrix, summarizeMatrix, type MatrixSummary } from '../../analysis/label-matrix';
import { balancedIndices, subset } from '../../data/dataset';
import { loadDataset, type LoadOptions } from '../../data/registry';
import { consoleSink, type ProgressSink } from '../../progress';
import { Rng } from '../../rng';
import type { ResolvedProfile } from '../../train/profiles';
import { profileData, trainBenign } from '../../train/run';
import { type PgdConfig, validatePgd } from './pgd';

export interface AdversarialEvalConfig {
  profile: ResolvedProfile;
  seed: number;
  pgd: PgdConfig;
  /** test images attacked, balanced over classes, from the full test split; null = all of it */
  images: number | null;
  batchSize: number;
}

export interface AdversarialEvalReport {
  config: AdversarialEvalConfig;
  key: string;
  runtime: ReturnType<typeof runtimeInfo>;
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
 * Attacks the profile's benign model (trained or found in the cache) with PGD/FGSM over test
 * images and reports where the adversarial examples land and how long the attack took. The report
 * is written under data-cache/results/adversarial/ with its config, backend and versions.
 */
export async function evaluateAdversarial(
  cfg: AdversarialEvalConfig,
  opts: { data?: LoadOptions; progress?: ProgressSink; cache?: Cache; out?: string } = {},
): Promise<AdversarialEvalReport> {
  validatePgd(cfg.pgd);
  if (cfg.images !== null && !(Number.isInteger(cfg.images) && cfg.images > 0)) throw new Error(`images: expected a positive integer or null (all), got ${cfg.images}`);
  const cache = opts.cache ?? new Cache();
  const progress = opts.progress ?? consoleSink();
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
    const key = configKey({ kind: 'adversarial-eval', cfg, model: benign.record.key });
    const out = opts.out ?? path.join(cacheRoot(), 'results', 'adversarial', `${cfg.profile.dataset}-${attackName(cfg.pgd)}-${key}.json`);
    const report: AdversarialEvalReport = {
      config: cfg,
      key,
      runtime: runtimeInfo(),
      model: { arch: cfg.profile.arch, cleanAccuracy: benign.record.cleanAccuracy, modelKey: benign.record.key },
      images: images.shape[0],
      cleanAccuracy: distribution.cleanCorrect / distribution.total,
      robustAccuracy: (distribution.total - distribution.misclassified) / distribution.total,
      distribution,
      spread: summarizeMatrix(benignMatrix(distribution)),
      seconds,
      out,
    };
    writeFileAtomic(out, JSON.stringify(report, null, 2));
    return report;
  } finally {
    benign.model.dispose();
  }
}

function attackName(cfg: PgdConfig): string {
  return cfg.iterations === 1 && cfg.step === cfg.eps && cfg.norm === 'linf' && !cfg.randomStart ? 'fgsm' : `pgd-${cfg.norm}`;
}
