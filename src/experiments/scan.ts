import * as fs from 'node:fs';
import * as path from 'node:path';
import { type PgdConfig, pgdBudget, pgdBudgetText } from '../attacks/adversarial/pgd';
import type { AttackRequest } from '../attacks/backdoor/attack';
import { trainInfected } from '../attacks/backdoor/run';
import { scan, type ScanMeasurement, type ScanResult, SCAN_THRESHOLD, scoreScan } from '../analysis/scan';
import { Cache } from '../cache';
import { type Dataset, subset } from '../data/dataset';
import { type DatasetName, isDatasetName, loadDataset } from '../data/registry';
import { loadWeightsInto } from '../io/checkpoint';
import type { Model, ModelConfig } from '../models/model';
import { createModel } from '../models/registry';
import { weightsHash } from '../models/weights';
import type { ProgressSink } from '../progress';
import { Rng } from '../rng';
import type { ResolvedProfile } from '../train/profiles';
import { profileData, trainBenign } from '../train/run';

/**
 * The scan's PGD budget per dataset, chosen on models the evaluation never scores
 * (docs/measurements.md, "The adversarial scan"): MNIST's on `smoke` models of seeds 100–102,
 * CIFAR-10's by a rule fixed before its calibration models were scanned (a grid of L∞ and L2
 * radii on two benign and five infected `cpu` models). Elsewhere the paper's L∞ 6/255.
 */
export const SCAN_PGD: Record<DatasetName, PgdConfig> = {
  mnist: pgdBudget({ norm: 'linf', eps: 0.3, iterations: 10 }),
  cifar10: pgdBudget({ norm: 'linf', eps: 16 / 255, iterations: 7 }),
  gtsrb: pgdBudget({}),
  'tiny-imagenet': pgdBudget({}),
};

/** The scan's verdict threshold on one dataset, and where the number comes from. */
export interface ScanThreshold {
  value: number;
  provenance: string;
}

/**
 * The scan's verdict threshold per dataset: what `pbe scan` and `pbe scan-eval` flag above unless
 * told otherwise. MNIST's and CIFAR-10's were chosen by a rule fixed before their calibration
 * models were scanned; elsewhere no benign model has been scanned, so Neural Cleanse's 2 stands.
 */
export const SCAN_THRESHOLDS: Record<DatasetName, ScanThreshold> = {
  mnist: {
    value: 7,
    provenance:
      'docs/measurements.md, "The adversarial scan": 1.25 × the highest score of the six benign `smoke` models (8 epochs) of seeds 400–405, rounded up to 0.5; the rule was fixed before they were trained, and scored on seeds 500–505',
  },
  cifar10: {
    value: 3.5,
    provenance:
      'docs/measurements.md, "The adversarial scan": 1.25 × the higher score of the two benign `cpu` models of seeds 1 and 2 at L∞ 16/255, rounded up to 0.5; the rule was fixed before they were scanned, and scored on other models',
  },
  gtsrb: { value: SCAN_THRESHOLD, provenance: "Neural Cleanse's 2: no GTSRB model has been scanned" },
  'tiny-imagenet': { value: SCAN_THRESHOLD, provenance: "Neural Cleanse's 2: no Tiny-ImageNet model has been scanned" },
};

/** The budgets as the commands' help gives them: `mnist L∞ 0.3 × 10, cifar10 L∞ 16/255 × 7, else L∞ 6/255 × 7`. */
export function scanPgdDefaults(): string {
  const fallback = pgdBudgetText(pgdBudget({}));
  const own = Object.entries(SCAN_PGD).filter(([, c]) => pgdBudgetText(c) !== fallback);
  return [...own.map(([d, c]) => `${d} ${pgdBudgetText(c)}`), `else ${fallback}`].join(', ');
}

/** The defaults as the commands' help gives them: `mnist 7, else 2`. */
export function scanThresholdDefaults(): string {
  const own = Object.entries(SCAN_THRESHOLDS).filter(([, t]) => t.value !== SCAN_THRESHOLD);
  return [...own.map(([d, t]) => `${d} ${t.value}`), `else ${SCAN_THRESHOLD}`].join(', ');
}

/** Clean images per scan unless told: MNIST `smoke` models answer from 200. */
export const SCAN_IMAGES = 200;

/** What a model was trained as, when the scan can know it: for scoring an evaluation, never for the scan itself. */
export type ModelTruth = { kind: 'benign' } | { kind: 'infected'; attack: string; mode: 'all2one' | 'all2all'; target: number };

/** A model the profile trains (found in the cache, or trained), or a model folder with its record.json. */
export type ScanModelSource = { kind: 'profile'; profile: ResolvedProfile; seed: number; attack?: AttackRequest } | { kind: 'checkpoint'; dir: string };

export interface LoadedModel {
  model: Model;
  dataset: DatasetName;
  truth: ModelTruth | null;
  /** weightsHash of the model: what a scan of it is cached under */
  weights: string;
  label: string;
  /** clean accuracy and attack success rate on the profile's test split, when the model was trained here */
  metrics?: { acc: number; asr: number | null };
}

interface ModelRecord {
  spec: {
    purpose?: string;
    dataset?: string;
    modelConfig?: ModelConfig;
    profile?: { dataset?: string };
    attack?: { name: string; rule: { mode: 'all2one' | 'all2all'; target: number } };
  };
}

/**
 * A model folder as the cache stores one (models/<key>/: weights and record.json), e.g. a
 * `pbe train` result. Its record names the architecture and dataset, and, for the evaluation,
 * what it was trained as.
 */
function readRecord(dir: string): { record: ModelRecord; config: ModelConfig; dataset: DatasetName } {
  const recordFile = path.join(dir, 'record.json');
  if (!fs.existsSync(recordFile)) throw new Error(`--checkpoint ${dir}: no record.json there; expected a model folder as the cache stores one (models/<key>/)`);
  const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as ModelRecord;
  const config = record.spec.modelConfig;
  const dataset = record.spec.dataset ?? record.spec.profile?.dataset;
  if (!config || !dataset || !isDatasetName(dataset))
    throw new Error(`--checkpoint ${dir}: record.json names no model config and dataset (spec.modelConfig, spec.dataset); is it a trained model's folder?`);
  return { record, config, dataset };
}

/** The dataset a model folder was trained on, read from its record without loading the weights. */
export function checkpointDataset(dir: string): DatasetName {
  return readRecord(dir).dataset;
}

export async function loadCheckpoint(dir: string): Promise<LoadedModel> {
  const { record, config, dataset } = readRecord(dir);
  const model = createModel(config, 'checkpoint');
  await loadWeightsInto(dir, model);
  const a = record.spec.attack;
  const truth: ModelTruth | null =
    record.spec.purpose === 'benign'
      ? { kind: 'benign' }
      : record.spec.purpose === 'infected' && a
        ? { kind: 'infected', attack: a.name, mode: a.rule.mode, target: a.rule.target }
        : null;
  return { model, dataset, truth, weights: weightsHash(model), label: `${path.basename(dir)} (${truthLabel(truth)})` };
}

export function truthLabel(truth: ModelTruth | null): string {
  if (!truth) return 'unknown';
  if (truth.kind === 'benign') return 'benign';
  return truth.mode === 'all2all' ? `${truth.attack} all-to-all` : `${truth.attack} → ${truth.target}`;
}

/** The model of `source`: a profile's is trained when the cache lacks it, as every command does. */
export async function loadScanModel(source: ScanModelSource, opts: { cache: Cache; dataPath?: string; progress?: ProgressSink }): Promise<LoadedModel> {
  if (source.kind === 'checkpoint') return loadCheckpoint(source.dir);
  const { profile, seed, attack } = source;
  const full = await loadDataset(profile.dataset, { path: opts.dataPath, cache: opts.cache });
  const splits = profileData(full, profile);
  if (!attack) {
    const b = await trainBenign(profile, { seed, cache: opts.cache, splits, progress: opts.progress });
    return {
      model: b.model,
      dataset: profile.dataset,
      truth: { kind: 'benign' },
      weights: weightsHash(b.model),
      label: `benign, seed ${seed}`,
      metrics: { acc: b.record.cleanAccuracy, asr: null },
    };
  }
  const m = await trainInfected(profile, attack, { seed, cache: opts.cache, splits, progress: opts.progress });
  m.attack.trigger.dispose();
  const truth: ModelTruth = { kind: 'infected', attack: attack.name, mode: attack.mode, target: attack.target };
  return {
    model: m.model,
    dataset: profile.dataset,
    truth,
    weights: weightsHash(m.model),
    label: `${truthLabel(truth)}, seed ${seed}`,
    metrics: { acc: m.acc, asr: m.asr },
  };
}

/** `n` test images drawn by `seed` without looking at their labels: the defender's unlabelled sample. */
export function scanSample(test: Dataset, n: number, seed: number): Dataset {
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`scan: the sample size must be a positive integer, got ${n}`);
  if (n > test.shape[0]) throw new Error(`scan: asked for ${n} images, the ${test.name} split has ${test.shape[0]}`);
  const idx = new Rng(seed).fork('scan-sample').sample(test.shape[0], n);
  return subset(test, idx, `${test.name}-scan-${seed}`);
}

export interface ScanRunConfig {
  pgd: PgdConfig;
  images: number;
  /** draws the sample and PGD's random starts */
  seed: number;
  /** default: the dataset's SCAN_THRESHOLDS */
  threshold?: number;
  dataPath?: string;
}

/** A finished scan: the result and the model it was run on. */
export type StoredScan = ScanResult & { weights: string; fromCache: boolean };

/**
 * Scans a loaded model on `images` test images drawn by the seed. What PGD measured is cached
 * under the model's weights, the budget and the sample, so a population is attacked once and a
 * new threshold only rescores it.
 */
export async function scanModel(loaded: LoadedModel, cfg: ScanRunConfig, opts: { cache?: Cache; progress?: ProgressSink } = {}): Promise<StoredScan> {
  const cache = opts.cache ?? new Cache();
  if (!(Number.isInteger(cfg.images) && cfg.images > 0)) throw new Error(`scan: the sample size must be a positive integer, got ${cfg.images}`);
  const threshold = cfg.threshold ?? SCAN_THRESHOLDS[loaded.dataset].value;
  const key = { kind: 'scan', weights: loaded.weights, dataset: loaded.dataset, pgd: cfg.pgd, images: cfg.images, seed: cfg.seed };
  const cached = cache.get('scans', key);
  if (cached) return { ...scoreScan(JSON.parse(cached.read('scan.json').toString()) as ScanMeasurement, threshold), weights: loaded.weights, fromCache: true };
  const full = await loadDataset(loaded.dataset, { path: cfg.dataPath, cache });
  const images = scanSample(full.test, cfg.images, cfg.seed);
  const result = scan(loaded.model, images, { pgd: cfg.pgd, threshold, rng: new Rng(cfg.seed).fork('scan-pgd'), progress: opts.progress });
  const measured: ScanMeasurement = { images: result.images, byPrediction: result.byPrediction, byTrueClass: result.byTrueClass, seconds: result.seconds };
  await cache.put('scans', key, { 'scan.json': JSON.stringify(measured) }, { keepExisting: true });
  return { ...result, weights: loaded.weights, fromCache: false };
}
