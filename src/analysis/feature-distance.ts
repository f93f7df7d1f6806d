import * as tf from '@tensorflow/tfjs-core';
import { pgd, type PgdConfig, validatePgd } from '../attacks/adversarial/pgd';
import { type LabelRule, type Trigger, targetLabel, validateLabelRule } from '../attacks/backdoor/trigger';
import type { Dataset } from '../data/dataset';
import { vegaLite, type VegaLiteSpec } from '../plots/vega';
import type { ProgressSink } from '../progress';
import type { Rng } from '../rng';
import { type Classifier, forEachBatch } from './batches';
import { adversarialBatch, type AdversarialLabelDistribution, type AdversarialSet, checkAdversarialSet, tallyAdversarialLabels } from './label-matrix';

/**
 * Which network's feature extractor f measures each distance; the paper does not say.
 * - 'infected': the infected model's f for every input, so both distances live in one space.
 * - 'own': each term in its own model's space: the benign f for D_benign (f(x̃) and f(xᵗ)), the
 *   infected f for D_infected.
 */
export type FeatureExtractorChoice = 'infected' | 'own';
export const FEATURE_EXTRACTORS: readonly FeatureExtractorChoice[] = ['infected', 'own'];

/** Means over the images, and the per-image values behind them (for histograms). */
export interface FeatureDistanceSummary {
  extractor: FeatureExtractorChoice;
  /** mean ‖f(x̃) − f(xᵗ)‖₂, x̃ adversarial against the benign model */
  dBenign: number;
  /** mean ‖f(x̃') − f(xᵗ)‖₂, x̃' adversarial against the infected model */
  dInfected: number;
  /** dInfected / dBenign: below 1 when the infected model's adversarial examples sit nearer the triggered images */
  ratio: number;
  /**
   * The baseline: mean ‖f(x) − f(xᵗ)‖₂ from the clean image itself, in the space of each term
   * (equal for 'infected', where both terms share f).
   */
  cleanToTrigger: { benignTerm: number; infectedTerm: number };
  perImage: { dBenign: Float64Array; dInfected: Float64Array; cleanToTriggerBenignTerm: Float64Array; cleanToTriggerInfectedTerm: Float64Array };
}

export interface FeatureDistances {
  /** images measured: the clean images minus the target class (all-to-one) */
  n: number;
  /** their indices in the given dataset */
  sourceIndices: Int32Array;
  infected: FeatureDistanceSummary;
  own: FeatureDistanceSummary;
  /** where the adversarial examples x̃ (benign) and x̃' (infected) land, over the same images */
  labels: { benign: AdversarialLabelDistribution; infected: AdversarialLabelDistribution };
  /** share of adversarial examples predicted as each image's backdoor target (l, or y + 1) */
  targetShare: { benign: number; infected: number };
}

export interface FeatureDistanceOptions {
  /** the attack's label rule: all-to-one target-class images are left out, and it names each image's target */
  rule: LabelRule;
  batchSize: number;
  /** needed when cfg.randomStart and no `adversarial` sets are given; each model's PGD draws from its own fork */
  rng?: Rng;
  progress?: ProgressSink;
  /**
   * Each model's adversarial examples of every image of `images`, made with the same `cfg`
   * (`adversarialExamples`): used instead of running PGD again.
   */
  adversarial?: { benign: AdversarialSet; infected: AdversarialSet };
}

/**
 * Table 5: for each clean image x (not of the target class, all-to-one), its triggered xᵗ and its
 * untargeted adversarial examples x̃ (against the benign model) and x̃' (against the infected one),
 * the l2 distances in feature space (penultimate features, eval mode) under both choices of f.
 */
export function featureDistances(
  models: { benign: Classifier; infected: Classifier },
  images: Dataset,
  trigger: Pick<Trigger, 'apply'>,
  cfg: PgdConfig,
  opts: FeatureDistanceOptions,
): FeatureDistances {
  validatePgd(cfg);
  validateLabelRule(opts.rule);
  if (cfg.targeted) throw new Error('featureDistances: the adversarial examples are untargeted; got pgd.targeted = true');
  for (const [name, m] of Object.entries(models)) {
    if (m.config.numClasses !== images.classNames.length) {
      throw new Error(`featureDistances: the ${name} model has ${m.config.numClasses} classes, ${images.name} has ${images.classNames.length}`);
    }
  }
  const sets = opts.adversarial;
  if (sets) for (const name of ['benign', 'infected'] as const) checkAdversarialSet(sets[name], images, `featureDistances.adversarial.${name}`);
  const kept: number[] = [];
  for (let i = 0; i < images.shape[0]; i++) if (opts.rule.mode === 'all2all' || images.labels[i] !== opts.rule.target) kept.push(i);
  const indices = Int32Array.from(kept);
  const n = indices.length;
  if (n === 0) throw new Error(`featureDistances: ${images.name} has no image outside the target class ${opts.rule.target}`);

  const column = () => new Float64Array(n);
  // Per image: [benign f, infected f] distances of x̃, x̃', x to xᵗ, as needed by the two choices.
  const advBenignB = column(); // ‖fB(x̃) − fB(xᵗ)‖
  const advBenignI = column(); // ‖fI(x̃) − fI(xᵗ)‖
  const advInfectedI = column(); // ‖fI(x̃') − fI(xᵗ)‖
  const cleanB = column(); // ‖fB(x) − fB(xᵗ)‖
  const cleanI = column(); // ‖fI(x) − fI(xᵗ)‖
  const pred = { cleanB: new Int32Array(n), cleanI: new Int32Array(n), advB: new Int32Array(n), advI: new Int32Array(n) };

  forEachBatch(images, indices, { batchSize: opts.batchSize, progress: opts.progress, label: 'feature distances' }, (x, y, batch) => {
    const { start } = batch;
    const adversarialOf = (name: 'benign' | 'infected') =>
      sets ? adversarialBatch(sets[name], batch.indices) : pgd(models[name], x, y, cfg, opts.rng?.fork(`batch-${start / opts.batchSize}`).fork(name));
    const adv: tf.Tensor4D[] = [];
    let values: tf.Tensor[];
    try {
      adv.push(adversarialOf('benign'));
      adv.push(adversarialOf('infected'));
      const [advB, advI] = adv;
      values = tf.tidy(() => {
        const xt = trigger.apply(x);
        const fB = (t: tf.Tensor4D) => models.benign.forward(t, { training: false });
        const fI = (t: tf.Tensor4D) => models.infected.forward(t, { training: false });
        const [bAdv, bTrig, bClean] = [fB(advB), fB(xt), fB(x)];
        const [iAdvB, iAdvI, iTrig, iClean] = [fI(advB), fI(advI), fI(xt), fI(x)];
        const dist = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.sqrt(tf.sum(tf.square(tf.sub(a, b)), 1));
        const labels = (o: { logits: tf.Tensor2D }) => tf.argMax(o.logits, 1);
        return [
          dist(bAdv.features, bTrig.features),
          dist(iAdvB.features, iTrig.features),
          dist(iAdvI.features, iTrig.features),
          dist(bClean.features, bTrig.features),
          dist(iClean.features, iTrig.features),
          labels(bClean),
          labels(iClean),
          labels(bAdv),
          labels(iAdvI),
        ];
      });
    } finally {
      tf.dispose(adv);
    }
    const data = values.map((t) => t.dataSync());
    tf.dispose(values);
    [advBenignB, advBenignI, advInfectedI, cleanB, cleanI].forEach((col, j) => col.set(data[j], start));
    [pred.cleanB, pred.cleanI, pred.advB, pred.advI].forEach((col, j) => col.set(data[5 + j], start));
  });

  const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const summary = (extractor: FeatureExtractorChoice, dB: Float64Array, cB: Float64Array): FeatureDistanceSummary => ({
    extractor,
    dBenign: mean(dB),
    dInfected: mean(advInfectedI),
    ratio: mean(advInfectedI) / mean(dB),
    cleanToTrigger: { benignTerm: mean(cB), infectedTerm: mean(cleanI) },
    perImage: { dBenign: dB, dInfected: advInfectedI, cleanToTriggerBenignTerm: cB, cleanToTriggerInfectedTerm: cleanI },
  });
  const trueLabels = Int32Array.from(indices, (i) => images.labels[i]);
  const targets = trueLabels.map((y) => targetLabel(opts.rule, y));
  const share = (p: Int32Array) => p.reduce((s, v, i) => s + (v === targets[i] ? 1 : 0), 0) / n;
  return {
    n,
    sourceIndices: indices,
    infected: summary('infected', advBenignI, cleanI),
    own: summary('own', advBenignB, cleanB),
    labels: {
      benign: tallyAdversarialLabels(images.classNames, trueLabels, pred.cleanB, pred.advB),
      infected: tallyAdversarialLabels(images.classNames, trueLabels, pred.cleanI, pred.advI),
    },
    targetShare: { benign: share(pred.advB), infected: share(pred.advI) },
  };
}

const TERMS = ['D_benign = ‖f(x̃) − f(xᵗ)‖', "D_infected = ‖f(x̃') − f(xᵗ)‖", 'clean ‖f(x) − f(xᵗ)‖'];

/**
 * Table 5 as grouped bars: per attack, D_benign, D_infected and the clean-to-trigger baseline
 * (for 'own', the baseline shown is the infected model's, the space of D_infected).
 */
export function featureDistanceSpec(rows: readonly { attack: string; distances: FeatureDistances }[], extractor: FeatureExtractorChoice): VegaLiteSpec {
  const values = rows.flatMap(({ attack, distances }) => {
    const s = distances[extractor];
    return [s.dBenign, s.dInfected, s.cleanToTrigger.infectedTerm].map((distance, j) => ({ attack, term: TERMS[j], distance, n: distances.n }));
  });
  return vegaLite({
    title: { text: 'Feature distance to the triggered images (Table 5)', subtitle: `f: ${extractorText(extractor)}` },
    data: { values },
    mark: 'bar',
    width: { step: 22 },
    encoding: {
      x: { field: 'attack', type: 'nominal', title: 'attack', axis: { labelAngle: 0 } },
      xOffset: { field: 'term', type: 'nominal', sort: TERMS },
      y: { field: 'distance', type: 'quantitative', title: 'mean l2 distance in feature space' },
      color: { field: 'term', type: 'nominal', sort: TERMS, title: null, scale: { range: ['#4c78a8', '#e45756', '#bab0ac'] }, legend: { labelLimit: 320 } },
      tooltip: [{ field: 'attack' }, { field: 'term' }, { field: 'distance', format: '.3f' }, { field: 'n', title: 'images' }],
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}

/** Per-image histograms of D_benign and D_infected, overlaid: the two populations of Fig. 3. */
export function featureDistanceHistogramSpec(distances: FeatureDistances, extractor: FeatureExtractorChoice, attack: string, bins = 30): VegaLiteSpec {
  const s = distances[extractor];
  const values = [
    ...Array.from(s.perImage.dBenign, (distance) => ({ term: TERMS[0], distance })),
    ...Array.from(s.perImage.dInfected, (distance) => ({ term: TERMS[1], distance })),
  ];
  return vegaLite({
    title: { text: `Per-image feature distance to the triggered image — ${attack}`, subtitle: `${distances.n} images; f: ${extractorText(extractor)}` },
    data: { values },
    mark: { type: 'bar', opacity: 0.55, binSpacing: 0 },
    width: 360,
    height: 200,
    encoding: {
      x: { field: 'distance', type: 'quantitative', bin: { maxbins: bins }, title: 'l2 distance in feature space' },
      y: { aggregate: 'count', type: 'quantitative', stack: null, title: 'images' },
      color: { field: 'term', type: 'nominal', sort: TERMS.slice(0, 2), title: null, scale: { range: ['#4c78a8', '#e45756'] }, legend: { labelLimit: 320 } },
    },
  } as Omit<VegaLiteSpec, '$schema'>);
}

function extractorText(extractor: FeatureExtractorChoice): string {
  return extractor === 'infected' ? 'the infected model for every input' : "each model's own (benign f for D_benign, infected f for D_infected)";
}
