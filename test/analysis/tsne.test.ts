import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { PgdConfig } from '../../src/attacks/adversarial/pgd';
import { adversarialExamples } from '../../src/analysis/label-matrix';
import { classColors, embeddingLegend, featureEmbedding, TARGET_COLORS, TRIGGERED_COLOR, tsne2d, tsneSpec } from '../../src/analysis/tsne';
import { subset } from '../../src/data/dataset';
import { compileVegaLite, renderSvg } from '../../src/plots/vega';
import { Rng } from '../../src/rng';
import { mnistModels, TARGET } from './fixtures';

/** Three well-separated Gaussian clusters in 6 dimensions, 30 points each. */
function clusters(): { rows: Float64Array[]; labels: number[] } {
  const rng = new Rng('tsne-clusters');
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < 90; i++) {
    const c = i % 3;
    rows.push(Float64Array.from({ length: 6 }, (_, j) => (j === c ? 10 : 0) + rng.normal(0, 0.5)));
    labels.push(c);
  }
  return { rows, labels };
}

function hue(hex: string): { h: number; l: number } {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const l = (max + min) / 2;
  const d = max - min;
  if (d === 0) return { h: 0, l };
  const h = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return { h: h * 60, l };
}

describe('t-SNE of features (Fig. 5)', function () {
  it('is deterministic for a seed, finite, N×2, and keeps separated clusters apart', () => {
    const { rows, labels } = clusters();
    const params = { perplexity: 10, iterations: 250, learningRate: 10 };
    const a = tsne2d(rows, params, 7);
    const b = tsne2d(rows, params, 7);
    const c = tsne2d(rows, params, 8);
    assert.equal(a.length, 90);
    assert.ok(a.every((p) => p.length === 2 && Number.isFinite(p[0]) && Number.isFinite(p[1])));
    assert.deepEqual(
      a.map((p) => Array.from(p)),
      b.map((p) => Array.from(p)),
    );
    assert.notDeepEqual(
      a.map((p) => Array.from(p)),
      c.map((p) => Array.from(p)),
    );
    // Every point's nearest neighbour in the embedding comes from its own cluster.
    let same = 0;
    for (let i = 0; i < a.length; i++) {
      let best = -1;
      let bestD = Infinity;
      for (let j = 0; j < a.length; j++) {
        const d = j === i ? Infinity : (a[i][0] - a[j][0]) ** 2 + (a[i][1] - a[j][1]) ** 2;
        if (d < bestD) [best, bestD] = [j, d];
      }
      if (labels[best] === labels[i]) same++;
    }
    assert.equal(same, 90);
    assert.throws(() => tsne2d(rows, { ...params, perplexity: 90 }, 7), /tsne\.perplexity: expected a number in \(0, 90\)/);
    assert.throws(() => tsne2d(rows, { ...params, iterations: 0 }, 7), /tsne\.iterations/);
  });

  it('colours as the paper: dark per class, light of the same hue for adversarial, black triggered, cyan target', () => {
    const names = Array.from({ length: 10 }, (_, c) => String(c));
    const palette = classColors(10);
    for (const { clean, adversarial } of palette) {
      const [d, l] = [hue(clean), hue(adversarial)];
      assert.ok(Math.abs(d.h - l.h) < 3, `${clean} and ${adversarial} differ in hue`);
      assert.ok(d.l < 0.45 && l.l > 0.65, `${clean} should be dark and ${adversarial} light`);
      assert.ok(d.h <= 160 || d.h >= 210, `class hue ${d.h} is in the cyan band`);
    }
    assert.equal(new Set(palette.map((p) => p.clean)).size, 10);
    const legend = embeddingLegend(names, 3);
    assert.equal(legend.length, 21);
    const color = new Map(legend.map((e) => [e.group, e.color]));
    assert.equal(color.get('clean 3 (target)'), TARGET_COLORS.clean);
    assert.equal(color.get('adversarial 3 (target)'), TARGET_COLORS.adversarial);
    assert.equal(color.get('triggered'), TRIGGERED_COLOR);
    assert.equal(color.get('clean 4'), palette[4].clean);
    assert.equal(color.get('adversarial 4'), palette[4].adversarial);
    assert.equal(embeddingLegend(names, null).filter((e) => e.group.includes('target')).length, 0);
  });

  it('embeds clean, adversarial and triggered digits of the infected model, seeded end to end', async () => {
    const { infected, attack, test } = await mnistModels();
    const cfg: PgdConfig = { norm: 'linf', eps: 0.1, step: 0.02, iterations: 7, randomStart: false, targeted: false };
    const opts = { target: TARGET, points: 150, batchSize: 50, tsne: { perplexity: 15, iterations: 200 } };
    const before = tf.memory().numTensors;
    const e = featureEmbedding(infected, test, attack.trigger, cfg, { ...opts, rng: new Rng(5) });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.equal(e.points.length, 150);
    assert.equal(e.images, 50);
    for (const kind of ['clean', 'adversarial', 'triggered'] as const) assert.equal(e.points.filter((p) => p.kind === kind).length, 50);
    assert.ok(e.points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
    for (const p of e.points) {
      if (p.kind === 'triggered') assert.equal(p.color, TRIGGERED_COLOR);
      else if (p.cls === TARGET) assert.equal(p.color, TARGET_COLORS[p.kind]);
      else assert.equal(p.color, classColors(10)[p.cls][p.kind]);
    }
    // Each image contributes its three points.
    const byImage = new Map<number, string[]>();
    for (const p of e.points) byImage.set(p.sourceIndex, [...(byImage.get(p.sourceIndex) ?? []), p.kind]);
    assert.ok([...byImage.values()].every((kinds) => kinds.sort().join() === 'adversarial,clean,triggered'));

    const again = featureEmbedding(infected, test, attack.trigger, cfg, { ...opts, rng: new Rng(5) });
    assert.deepEqual(again.points, e.points);

    const adversarial = adversarialExamples(infected, test, cfg, { batchSize: 100 });
    const reused = featureEmbedding(infected, test, attack.trigger, cfg, { ...opts, rng: new Rng(5), adversarial });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(reused, e);
    const blank = featureEmbedding(infected, test, attack.trigger, cfg, {
      ...opts,
      rng: new Rng(5),
      adversarial: { ...adversarial, images: new Float32Array(adversarial.images.length) },
    });
    assert.notDeepEqual(blank.points, e.points, 'the precomputed set was not used');
    const fewer = subset(
      test,
      Int32Array.from({ length: 199 }, (_, i) => i),
    );
    assert.throws(
      () => featureEmbedding(infected, fewer, attack.trigger, cfg, { ...opts, rng: new Rng(5), adversarial }),
      /featureEmbedding\.adversarial: expected the adversarial examples of the 199 images of mnist, each 28×28×1; got 200 images/,
    );

    const spec = tsneSpec(e);
    compileVegaLite(spec);
    assert.match(await renderSvg(spec), /triggered/);
    assert.throws(
      () => featureEmbedding(infected, test, attack.trigger, cfg, { ...opts, points: 3000, rng: new Rng(5) }),
      /3000 points need 1000 images, mnist has 200/,
    );
  });
});
