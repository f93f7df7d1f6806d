import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { PgdConfig } from '../../src/attacks/adversarial/pgd';
import type { Classifier } from '../../src/analysis/batches';
import {
  adversarialExamples,
  adversarialLabelDistribution,
  allToAllMatrix,
  benignMatrix,
  infectedMatrix,
  labelDistributionOf,
  labelMatrixSpec,
  summarizeMatrix,
  tallyAdversarialLabels,
  type AdversarialLabelDistribution,
} from '../../src/analysis/label-matrix';
import { useBackend } from '../helpers/backend';
import type { Dataset } from '../../src/data/dataset';
import { compileVegaLite, renderSvg } from '../../src/plots/vega';
import { mnistModels, TARGET } from './fixtures';

/**
 * One-pixel images and three classes centred at 0.2, 0.5 and 0.8: logits −k(x − m_c)², so the
 * prediction is the nearest centre and the CE gradient's sign is known by hand.
 */
function nearestCentreModel(k = 20): Classifier & { dispose(): void } {
  const centres = tf.tensor1d([0.2, 0.5, 0.8]);
  const forward: Classifier['forward'] = (x) =>
    tf.tidy(() => {
      const features = tf.reshape(x, [x.shape[0], 1]) as tf.Tensor2D;
      return { logits: tf.mul(-k, tf.square(tf.sub(features, centres))) as tf.Tensor2D, features, activations: {} };
    });
  return { config: { numClasses: 3 }, forward, predict: (x) => forward(x, { training: false }).logits, dispose: () => centres.dispose() };
}

function pixels(values: number[], labels: number[]): Dataset {
  return {
    name: 'pixels',
    split: 'test',
    images: Uint8Array.from(values),
    shape: [values.length, 1, 1, 1],
    labels: Int32Array.from(labels),
    classNames: ['a', 'b', 'c'],
    source: 'test',
  };
}

const distribution = (byTrueClass: number[][]): AdversarialLabelDistribution => {
  const k = byTrueClass.length;
  const overall = Array.from({ length: k }, (_, c) => byTrueClass.reduce((s, row) => s + row[c], 0));
  const total = overall.reduce((a, b) => a + b, 0);
  return { classNames: Array.from({ length: k }, (_, c) => String(c)), byTrueClass, overall, total, cleanCorrect: total, changed: total, misclassified: total };
};

describe('adversarial label matrices (Fig. 1, Fig. 4)', function () {
  useBackend('wasm');

  it('tallies true / clean / adversarial labels by hand', () => {
    const d = tallyAdversarialLabels(['0', '1', '2'], [0, 0, 1, 1, 2, 2], [0, 0, 1, 2, 2, 2], [1, 0, 0, 2, 2, 0]);
    assert.deepEqual(d.byTrueClass, [
      [1, 1, 0],
      [1, 0, 1],
      [1, 0, 1],
    ]);
    assert.deepEqual(d.overall, [3, 1, 2]);
    assert.equal(d.total, 6);
    assert.equal(d.cleanCorrect, 5);
    assert.equal(d.changed, 3);
    assert.equal(d.misclassified, 4);
    assert.throws(() => tallyAdversarialLabels(['0', '1'], [0], [0], [2]), /outside \[0, 1\]/);
    assert.throws(() => tallyAdversarialLabels(['0', '1'], [0, 1], [0], [1, 1]), /2 true labels, 1 clean/);
  });

  it('runs PGD and counts on a stub model whose predictions are known by hand', () => {
    // 0.2 (a) and 0.8 (c) step by 0.3 onto b's centre; 0.45 (b) steps to 0.15 (a); 0.2 labelled c
    // is pushed away from c, to 0 — still predicted a: unchanged but misclassified.
    const images = pixels([51, 115, 204, 51], [0, 1, 2, 2]);
    const cfg: PgdConfig = { norm: 'linf', eps: 0.3, step: 0.3, iterations: 1, randomStart: false, targeted: false };
    const stub = nearestCentreModel();
    const before = tf.memory().numTensors;
    const d = adversarialLabelDistribution(stub, images, cfg, { batchSize: 3 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(d.byTrueClass, [
      [0, 1, 0],
      [1, 0, 0],
      [1, 1, 0],
    ]);
    assert.deepEqual(d.overall, [2, 2, 0]);
    assert.deepEqual([d.total, d.cleanCorrect, d.changed, d.misclassified], [4, 3, 3, 4]);
    assert.throws(() => adversarialLabelDistribution(stub, images, { ...cfg, targeted: true }, { batchSize: 3 }), /untargeted/);
    stub.dispose();
  });

  it('keeps the adversarial examples in image order, and counts them as adversarialLabelDistribution does', () => {
    const images = pixels([51, 115, 204, 51], [0, 1, 2, 2]);
    const cfg: PgdConfig = { norm: 'linf', eps: 0.3, step: 0.3, iterations: 1, randomStart: false, targeted: false };
    const stub = nearestCentreModel();
    const before = tf.memory().numTensors;
    // Batches of 3 and 1: the kept images must still line up with the dataset.
    const set = adversarialExamples(stub, images, cfg, { batchSize: 3 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(set.shape, [4, 1, 1, 1]);
    const expected = [0.5, 115 / 255 - 0.3, 0.5, 0];
    expected.forEach((v, i) => assert.ok(Math.abs(set.images[i] - v) < 1e-6, `image ${i}: ${set.images[i]} vs ${v}`));
    assert.deepEqual(Array.from(set.cleanPredictions), [0, 1, 2, 0]);
    assert.deepEqual(Array.from(set.adversarialPredictions), [1, 0, 1, 0]);
    assert.deepEqual(labelDistributionOf(images, set), adversarialLabelDistribution(stub, images, cfg, { batchSize: 3 }));
    assert.throws(
      () => labelDistributionOf(pixels([51, 115, 204], [0, 1, 2]), set),
      /labelDistributionOf: expected the adversarial examples of the 3 images of pixels, each 1×1×1; got 4 images/,
    );
    assert.throws(
      () => adversarialExamples(stub, images, { ...cfg, targeted: true }, { batchSize: 3 }),
      /adversarialExamples: the observation is about untargeted PGD/,
    );
    stub.dispose();
  });

  it('builds benign, infected and all-to-all matrices whose rows sum to 1, with hand-checked summaries', () => {
    // Row 0: all wrong predictions on one class; row 1: spread uniformly over the wrong classes.
    const benign = benignMatrix(
      distribution([
        [2, 6, 0],
        [3, 4, 3],
        [0, 0, 0],
      ]),
    );
    for (const row of benign.shares.slice(0, 2)) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.deepEqual(benign.shares[2], [0, 0, 0]);
    const s = summarizeMatrix(benign);
    assert.equal(s.rows[0].wrongClassEntropy, 0);
    assert.equal(s.rows[0].maxWrongClassShare, 1);
    assert.ok(Math.abs(s.rows[1].wrongClassEntropy! - 1) < 1e-12);
    assert.equal(s.rows[1].maxWrongClassShare, 0.5);
    assert.equal(s.rows[1].trueClassShare, 0.4);
    assert.equal(s.rows[2].wrongClassEntropy, null);
    assert.equal(s.minTargetShare, null);
    assert.equal(s.meetsPaperClaim, null);

    const d0 = distribution([
      [5, 0, 0],
      [3, 2, 0],
      [2, 0, 8],
    ]);
    const d2 = distribution([
      [1, 0, 3],
      [0, 2, 3],
      [0, 0, 1],
    ]);
    const infected = infectedMatrix([
      { target: 0, distribution: d0 },
      { target: 2, distribution: d2 },
    ]);
    assert.deepEqual(infected.rowLabels, ['0', '2']);
    assert.deepEqual(infected.counts, [d0.overall, d2.overall]);
    const si = summarizeMatrix(infected);
    assert.deepEqual(
      si.rows.map((r) => r.targetShare),
      [0.5, 0.7],
    );
    assert.equal(si.minTargetShare, 0.5);
    assert.ok(Math.abs(si.meanTargetShare! - 0.6) < 1e-12);
    assert.equal(si.meetsPaperClaim, true);
    assert.equal(si.rows[0].wrongClassEntropy, null);
    assert.throws(() => infectedMatrix([]), /at least one/);
    assert.throws(() => infectedMatrix([{ target: 3, distribution: d0 }]), /target label 3 outside \[0, 2\]/);
    assert.throws(
      () =>
        infectedMatrix([
          { target: 1, distribution: d0 },
          { target: 1, distribution: d2 },
        ]),
      /one model per target label/,
    );

    const all2all = allToAllMatrix(d0);
    assert.deepEqual(all2all.targets, [1, 2, 0]);
    const sa = summarizeMatrix(all2all);
    assert.deepEqual(
      sa.rows.map((r) => r.targetShare),
      [0, 0, 0.2],
    );
    assert.equal(sa.meetsPaperClaim, false);
  });

  it('on real digits the infected model sends clearly more adversarial examples to its target than the benign one', async () => {
    const { benign, infected, test } = await mnistModels();
    const cfg: PgdConfig = { norm: 'linf', eps: 0.1, step: 0.02, iterations: 7, randomStart: false, targeted: false };
    const before = tf.memory().numTensors;
    const b = adversarialLabelDistribution(benign, test, cfg, { batchSize: 100 });
    const i = adversarialLabelDistribution(infected, test, cfg, { batchSize: 100 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    const benignShare = b.overall[TARGET] / b.total;
    const infectedShare = i.overall[TARGET] / i.total;
    const sb = summarizeMatrix(benignMatrix(b));
    const si = summarizeMatrix(infectedMatrix([{ target: TARGET, distribution: i }]));
    console.log(
      `      MNIST, ${b.total} test digits, L∞ ε 0.1 PGD-7: share on target ${TARGET}: infected ${infectedShare.toFixed(3)}, benign ${benignShare.toFixed(3)}; ` +
        `prediction changed: infected ${(i.changed / i.total).toFixed(3)}, benign ${(b.changed / b.total).toFixed(3)}; ` +
        `benign wrong-class entropy ${sb.meanWrongClassEntropy!.toFixed(2)}, max wrong-class share ${sb.maxWrongClassShare!.toFixed(2)}`,
    );
    assert.equal(si.minTargetShare, infectedShare);
    assert.ok(infectedShare >= 0.3 && infectedShare >= 3 * benignShare, `target share: infected ${infectedShare}, benign ${benignShare}`);
    assert.ok(i.changed / i.total > 0.5, `the attack changed only ${i.changed} of ${i.total} predictions`);
  });

  it('draws the matrix as an annotated heatmap that compiles and renders', async () => {
    const m = infectedMatrix([
      {
        target: 0,
        distribution: distribution([
          [5, 0],
          [3, 2],
        ]),
      },
      {
        target: 1,
        distribution: distribution([
          [1, 1],
          [0, 4],
        ]),
      },
    ]);
    const spec = labelMatrixSpec(m);
    compileVegaLite(spec);
    const values = (spec.data as { values: { row: string; column: string; value: number; text: string }[] }).values;
    assert.equal(values.length, 4);
    assert.deepEqual(values[0], { row: '0', column: '0', value: 0.8, text: '80' });
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg/);
    assert.match(svg, /Infected models/);
    // The legend speaks in percent, as its title and the cells do.
    assert.match(svg, />100%</);
    assert.doesNotMatch(svg, />1\.0</);
  });
});
