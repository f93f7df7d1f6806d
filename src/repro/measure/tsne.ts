import type { AdversarialSet, FeatureEmbedding } from '../../analysis';
import { adversarialExamples, featureEmbedding } from '../../analysis';
import type { AttackRequest } from '../../attacks/backdoor/attack';
import { stampedImages } from '../../attacks/backdoor/poison';
import { trainInfected } from '../../attacks/backdoor/run';
import type { Cache } from '../../cache';
import { balancedIndices, type Dataset, subset } from '../../data/dataset';
import { loadDataset } from '../../data/registry';
import { Rng } from '../../rng';
import { profileData } from '../../train/run';
import { pct } from '../format';
import type { ReproSettings } from '../settings';
import { keptMeasurement } from './kept';

/** Within the 2-D layout: how many adversarial (and, for reference, clean) points lie nearer the triggered points' centroid than their own class's clean centroid. */
export interface EmbeddingSummary {
  adversarialNearerTrigger: number;
  cleanNearerTrigger: number;
  points: number;
}

export function embeddingSummary(e: FeatureEmbedding): EmbeddingSummary {
  const centroid = (pts: { x: number; y: number }[]) => ({
    x: pts.reduce((a, p) => a + p.x, 0) / pts.length,
    y: pts.reduce((a, p) => a + p.y, 0) / pts.length,
  });
  const triggered = centroid(e.points.filter((p) => p.kind === 'triggered'));
  const classes = [...new Set(e.points.map((p) => p.cls))];
  const clean = new Map(classes.map((c) => [c, centroid(e.points.filter((p) => p.kind === 'clean' && p.cls === c))]));
  const d = (a: { x: number; y: number }, b: { x: number; y: number }) => Math.hypot(a.x - b.x, a.y - b.y);
  const share = (kind: 'clean' | 'adversarial') => {
    const pts = e.points.filter((p) => p.kind === kind && p.cls !== e.target);
    return pts.filter((p) => d(p, triggered) < d(p, clean.get(p.cls)!)).length / Math.max(1, pts.length);
  };
  return { adversarialNearerTrigger: share('adversarial'), cleanNearerTrigger: share('clean'), points: e.points.length };
}

/** 03-tsne: Fig. 5, the infected model's feature space (target 0). */
export interface TsneValues extends EmbeddingSummary {
  asr: number;
  acc: number;
  metrics: {
    /** adversarialNearerTrigger − cleanNearerTrigger: the "belt" beyond what clean points show */
    beltShare: number;
  };
}

export interface Tsne {
  values: TsneValues;
  /** for the figure: the layout, the images behind its points, their adversarial examples and their triggered versions */
  embedding: FeatureEmbedding;
  images: Dataset;
  adversarial: AdversarialSet;
  /** each image with the trigger stamped, as bytes (as poisoned data stores it), aligned with `images` */
  triggered: Uint8Array;
  target: number;
}

/** What the cache keeps of a t-SNE besides its binary arrays. */
interface KeptTsne {
  values: TsneValues;
  embedding: FeatureEmbedding;
  images: Omit<Dataset, 'images' | 'labels'> & { labels: number[] };
  adversarial: { shape: AdversarialSet['shape']; cleanPredictions: number[]; adversarialPredictions: number[] };
  target: number;
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const floatsOf = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/**
 * Fig. 5's layout of the scale's infected model (target 0). Kept in the cache, with the images its
 * figure shows, under the model's identity, the PGD budget, the number of points and the data's
 * location, so a later sitting reads it instead of running PGD and t-SNE again.
 */
export async function measureTsne(s: ReproSettings, seed: number, opts: { cache?: Cache } = {}): Promise<Tsne> {
  const request = { name: s.matrixAttack.name, mode: 'all2one' as const, target: 0 };
  return keptMeasurement(
    s,
    seed,
    request,
    {
      folder: 'tsne',
      kind: 'tsne',
      depends: { pgd: s.pgd, points: s.tsnePoints },
      what: `the t-SNE of ${request.name}`,
      restore: (entry) => {
        const kept = JSON.parse(entry.read('tsne.json').toString()) as KeptTsne;
        return {
          values: kept.values,
          embedding: kept.embedding,
          images: { ...kept.images, images: new Uint8Array(entry.read('images.bin')), labels: Int32Array.from(kept.images.labels) },
          adversarial: {
            shape: kept.adversarial.shape,
            images: floatsOf(entry.read('adversarial.bin')),
            cleanPredictions: Int32Array.from(kept.adversarial.cleanPredictions),
            adversarialPredictions: Int32Array.from(kept.adversarial.adversarialPredictions),
          },
          triggered: new Uint8Array(entry.read('triggered.bin')),
          target: kept.target,
        };
      },
      compute: async (cache) => {
        const t = await measure(s, seed, request, cache);
        const kept: KeptTsne = {
          values: t.values,
          embedding: t.embedding,
          images: { ...t.images, images: undefined, labels: Array.from(t.images.labels) } as KeptTsne['images'],
          adversarial: {
            shape: t.adversarial.shape,
            cleanPredictions: Array.from(t.adversarial.cleanPredictions),
            adversarialPredictions: Array.from(t.adversarial.adversarialPredictions),
          },
          target: t.target,
        };
        return {
          result: t,
          contents: {
            'tsne.json': JSON.stringify(kept),
            'images.bin': t.images.images,
            'adversarial.bin': bytesOf(t.adversarial.images),
            'triggered.bin': t.triggered,
          },
        };
      },
    },
    opts,
  );
}

async function measure(s: ReproSettings, seed: number, request: AttackRequest, cache: Cache): Promise<Tsne> {
  const data = profileData(await loadDataset(s.dataset, { cache }), s.training);
  const target = request.target;
  const infected = await trainInfected(s.training, request, { seed, splits: data, cache });
  try {
    const perClass = Math.ceil(s.tsnePoints / 3 / data.test.classNames.length);
    const images = subset(data.test, balancedIndices(data.test, perClass), 'tsne-images');
    const adversarial = adversarialExamples(infected.model, images, s.pgd, { batchSize: 128 });
    const embedding = featureEmbedding(infected.model, images, infected.attack.trigger, s.pgd, {
      target,
      points: s.tsnePoints,
      rng: new Rng(seed).fork('tsne'),
      batchSize: 128,
      adversarial,
    });
    const summary = embeddingSummary(embedding);
    return {
      values: { ...summary, asr: infected.asr, acc: infected.acc, metrics: { beltShare: summary.adversarialNearerTrigger - summary.cleanNearerTrigger } },
      embedding,
      images,
      adversarial,
      triggered: stampedImages(images, infected.attack.trigger),
      target,
    };
  } finally {
    infected.model.dispose();
    infected.attack.trigger.dispose();
  }
}

export function tsneReading(v: TsneValues): string {
  return `The paper: adversarial examples of an infected model move toward the triggered images. Measured in this layout (${v.points} points, ASR ${pct(v.asr)}): ${pct(v.adversarialNearerTrigger)} of the adversarial points outside the target class lie nearer the triggered points' centre than their own class's clean centre, against ${pct(v.cleanNearerTrigger)} of the clean points. (t-SNE keeps neighbourhoods, not distances: Table 5 measures the distances.)`;
}
