import { TSNE } from '@saehrimnir/druidjs';
import * as tf from '@tensorflow/tfjs-core';
import { pgd, type PgdConfig, validatePgd } from '../attacks/adversarial/pgd';
import type { Trigger } from '../attacks/backdoor/trigger';
import type { Dataset } from '../data/dataset';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { ProgressSink } from '../progress';
import type { Rng } from '../rng';
import { type Classifier, forEachBatch, readForward } from './batches';
import { adversarialBatch, type AdversarialSet, checkAdversarialSet } from './label-matrix';

export interface TsneParams {
  perplexity: number;
  iterations: number;
  /** druid's `epsilon`: the gradient-descent learning rate */
  learningRate: number;
}

/** Exact t-SNE (druid's O(N²) implementation) with the usual perplexity 30. */
export const TSNE_DEFAULT: TsneParams = { perplexity: 30, iterations: 500, learningRate: 10 };

/**
 * 2-D t-SNE of the rows, deterministic for a seed: druid draws its initial layout from its own
 * generator seeded with `seed`, and nothing else in it is random.
 */
export function tsne2d(rows: readonly Float64Array[], params: TsneParams, seed: number): Float64Array[] {
  const n = rows.length;
  if (!(params.perplexity > 0 && params.perplexity < n))
    throw new Error(`tsne.perplexity: expected a number in (0, ${n}) for ${n} points, got ${params.perplexity}`);
  if (!(Number.isInteger(params.iterations) && params.iterations >= 1)) throw new Error(`tsne.iterations: expected an integer ≥ 1, got ${params.iterations}`);
  if (!(params.learningRate > 0)) throw new Error(`tsne.learningRate: expected a positive number, got ${params.learningRate}`);
  if (!Number.isInteger(seed)) throw new Error(`tsne seed: expected an integer, got ${seed}`);
  const dims = rows[0].length;
  // druid sizes one of its buffers by the input dimension, so inputs need at least the output's 2.
  if (dims < 2 || rows.some((r) => r.length !== dims)) throw new Error(`tsne: rows must share one length ≥ 2, got ${rows.map((r) => r.length).join(', ')}`);
  const model = new TSNE(rows as Float64Array[], { perplexity: params.perplexity, epsilon: params.learningRate, d: 2, seed });
  model.init();
  return model.transform(params.iterations) as Float64Array[];
}

export type PointKind = 'clean' | 'adversarial' | 'triggered';

export interface EmbeddedPoint {
  x: number;
  y: number;
  kind: PointKind;
  /** true class of the clean image the point comes from */
  cls: number;
  /** that image's index in the given dataset */
  sourceIndex: number;
  /** legend entry, e.g. 'clean 3', 'adversarial 0 (target)', 'triggered' */
  group: string;
  color: string;
}

export interface LegendEntry {
  group: string;
  color: string;
}

export interface FeatureEmbedding {
  points: EmbeddedPoint[];
  /** every group in legend order, with its colour */
  legend: LegendEntry[];
  target: number | null;
  images: number;
  seed: number;
  params: TsneParams;
}

export interface EmbeddingOptions {
  /** the backdoor's target class, drawn in cyan; null for all-to-all */
  target: number | null;
  /** at least this many points: ceil(points / 3) images, each clean, adversarial and triggered */
  points?: number;
  rng: Rng;
  batchSize: number;
  tsne?: Partial<TsneParams>;
  progress?: ProgressSink;
  /**
   * The model's adversarial examples of every image of `images`, made with the same `cfg`
   * (`adversarialExamples`): the sampled images' rows are used instead of running PGD again.
   */
  adversarial?: AdversarialSet;
}

export const DEFAULT_EMBEDDING_POINTS = 2000;

/**
 * Fig. 5: t-SNE of the model's penultimate features of clean images, their untargeted adversarial
 * examples (against the same model) and their triggered versions. Which images is seeded
 * (`rng.fork('sample')`), and so is the t-SNE layout (`rng.fork('tsne')`).
 */
export function featureEmbedding(
  model: Classifier,
  images: Dataset,
  trigger: Pick<Trigger, 'apply'>,
  cfg: PgdConfig,
  opts: EmbeddingOptions,
): FeatureEmbedding {
  validatePgd(cfg);
  if (cfg.targeted) throw new Error('featureEmbedding: the adversarial examples are untargeted; got pgd.targeted = true');
  const k = images.classNames.length;
  if (opts.target !== null && !(Number.isInteger(opts.target) && opts.target >= 0 && opts.target < k)) {
    throw new Error(`featureEmbedding: target ${opts.target} outside [0, ${k - 1}]`);
  }
  const points = opts.points ?? DEFAULT_EMBEDDING_POINTS;
  const m = Math.ceil(points / 3);
  if (!(Number.isInteger(points) && points >= 3)) throw new Error(`featureEmbedding.points: expected an integer ≥ 3, got ${points}`);
  if (m > images.shape[0]) throw new Error(`featureEmbedding.points: ${points} points need ${m} images, ${images.name} has ${images.shape[0]}`);
  if (opts.adversarial) checkAdversarialSet(opts.adversarial, images, 'featureEmbedding.adversarial');
  const indices = opts.rng.fork('sample').sample(images.shape[0], m).sort();

  const rows: Float64Array[] = new Array(3 * m);
  const meta: { kind: PointKind; cls: number; sourceIndex: number }[] = new Array(3 * m);
  const kinds: PointKind[] = ['clean', 'adversarial', 'triggered'];
  forEachBatch(images, indices, { batchSize: opts.batchSize, progress: opts.progress, label: 't-SNE features' }, (x, y, batch) => {
    const owned: tf.Tensor4D[] = [];
    try {
      owned.push(
        opts.adversarial ? adversarialBatch(opts.adversarial, batch.indices) : pgd(model, x, y, cfg, opts.rng.fork(`pgd-${batch.start / opts.batchSize}`)),
      );
      owned.push(trigger.apply(x));
      [x, ...owned].forEach((input, j) => {
        const { features, featureSize } = readForward(model, input);
        for (let b = 0; b < batch.indices.length; b++) {
          const p = j * m + batch.start + b;
          rows[p] = Float64Array.from(features.subarray(b * featureSize, (b + 1) * featureSize));
          const i = batch.indices[b];
          meta[p] = { kind: kinds[j], cls: images.labels[i], sourceIndex: i };
        }
      });
    } finally {
      tf.dispose(owned);
    }
  });

  const params = { ...TSNE_DEFAULT, ...opts.tsne };
  const seed = opts.rng.fork('tsne').int(2 ** 31);
  const layout = tsne2d(rows, params, seed);
  const legend = embeddingLegend(images.classNames, opts.target);
  const colors = new Map(legend.map((e) => [e.group, e.color]));
  return {
    points: meta.map((p, q) => {
      const group = pointGroup(p.kind, p.cls, images.classNames, opts.target);
      return { x: layout[q][0], y: layout[q][1], ...p, group, color: colors.get(group)! };
    }),
    legend,
    target: opts.target,
    images: m,
    seed,
    params,
  };
}

export const TRIGGERED_COLOR = '#000000';
/** the target class: cyan, dark for clean images and light for their adversarial examples */
export const TARGET_COLORS = { clean: '#00acc1', adversarial: '#9be7f0' };

/**
 * One hue per class, dark for clean images and light (same hue) for adversarial examples, as in
 * Fig. 5. Hues are spread evenly over 215°…155° (through red), leaving out the cyan band that marks the target.
 */
export function classColors(k: number): { clean: string; adversarial: string }[] {
  return Array.from({ length: k }, (_, c) => {
    const hue = (215 + (c * 300) / k) % 360;
    return { clean: hslHex(hue, 0.75, 0.34), adversarial: hslHex(hue, 0.8, 0.78) };
  });
}

export function pointGroup(kind: PointKind, cls: number, classNames: readonly string[], target: number | null): string {
  if (kind === 'triggered') return 'triggered';
  return `${kind} ${classNames[cls]}${cls === target ? ' (target)' : ''}`;
}

/** Every group in legend order (clean classes, adversarial classes, triggered) with its colour. */
export function embeddingLegend(classNames: readonly string[], target: number | null): LegendEntry[] {
  const palette = classColors(classNames.length);
  const entries = (kind: 'clean' | 'adversarial') =>
    classNames.map((_, c) => ({ group: pointGroup(kind, c, classNames, target), color: c === target ? TARGET_COLORS[kind] : palette[c][kind] }));
  return [...entries('clean'), ...entries('adversarial'), { group: 'triggered', color: TRIGGERED_COLOR }];
}

/** The embedding as a scatter plot with the paper's colours and a legend of every group. */
export function tsneSpec(e: FeatureEmbedding, title = 't-SNE of penultimate features (Fig. 5)'): VegaLiteSpec {
  const shapes: Record<PointKind, string> = { clean: 'circle', adversarial: 'circle', triggered: 'cross' };
  return vegaLite({
    title: {
      text: title,
      subtitle: `${e.points.length} points from ${e.images} images: clean (dark), adversarial (light, same hue), triggered (black)${e.target === null ? '' : ', target class cyan'}`,
    },
    data: { values: e.points.map(({ x, y, kind, group, sourceIndex }) => ({ x, y, kind, group, sourceIndex })) },
    mark: { type: 'point', filled: true, size: 14, opacity: 0.8 },
    width: 420,
    height: 420,
    encoding: {
      x: { field: 'x', type: 'quantitative', axis: null },
      y: { field: 'y', type: 'quantitative', axis: null },
      color: {
        field: 'group',
        type: 'nominal',
        title: null,
        scale: { domain: e.legend.map((l) => l.group), range: e.legend.map((l) => l.color) },
        legend: { columns: 2, symbolLimit: 0, labelLimit: 260 },
      },
      shape: { field: 'kind', type: 'nominal', scale: { domain: Object.keys(shapes), range: Object.values(shapes) }, legend: null },
      tooltip: [{ field: 'group' }, { field: 'sourceIndex', title: 'image' }],
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}

function hslHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + h / 30) % 12;
    const v = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(255 * v)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}
