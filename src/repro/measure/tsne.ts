import type { AdversarialSet, FeatureEmbedding } from '../../analysis';
import { adversarialExamples, featureEmbedding } from '../../analysis';
import { trainInfected } from '../../attacks/backdoor/run';
import type { Trigger } from '../../attacks/backdoor/trigger';
import { balancedIndices, type Dataset, subset } from '../../data/dataset';
import { loadDataset } from '../../data/registry';
import { Rng } from '../../rng';
import { profileData } from '../../train/run';
import { pct } from '../format';
import type { ReproSettings } from '../settings';

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
  /** for the figure: the layout, the images behind its points, their adversarial examples and the trigger (the caller disposes it) */
  embedding: FeatureEmbedding;
  images: Dataset;
  adversarial: AdversarialSet;
  trigger: Trigger;
  target: number;
}

export async function measureTsne(s: ReproSettings, seed: number): Promise<Tsne> {
  const data = profileData(await loadDataset(s.dataset), s.training);
  const target = 0;
  const infected = await trainInfected(s.training, { name: s.matrixAttack.name, mode: 'all2one', target }, { seed, splits: data });
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
      trigger: infected.attack.trigger,
      target,
    };
  } finally {
    infected.model.dispose();
  }
}

export function tsneReading(v: TsneValues): string {
  return `The paper: adversarial examples of an infected model move toward the triggered images. Measured in this layout (${v.points} points, ASR ${pct(v.asr)}): ${pct(v.adversarialNearerTrigger)} of the adversarial points outside the target class lie nearer the triggered points' centre than their own class's clean centre, against ${pct(v.cleanNearerTrigger)} of the clean points. (t-SNE keeps neighbourhoods, not distances: Table 5 measures the distances.)`;
}
