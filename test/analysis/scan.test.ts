import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { pgdBudget } from '../../src/attacks/adversarial/pgd';
import { trainInfected } from '../../src/attacks/backdoor/run';
import { scan, scoreTransitions } from '../../src/analysis/scan';
import { Cache } from '../../src/cache';
import { loadMnist } from '../../src/data/mnist';
import { profileData } from '../../src/train/run';
import { resolveProfile } from '../../src/train/profiles';
import { weightsHash } from '../../src/models/weights';
import { robustDeviations } from '../../src/defenses/anomaly-index';
import { SCAN_PGD, scanModel, scanPgdDefaults, scanSample, scanThresholdDefaults, SCAN_THRESHOLDS } from '../../src/experiments/scan';
import { rocAuc, rocCurve } from '../../src/experiments/scan-eval';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { mnistModels, TARGET } from './fixtures';

const NAMES = ['a', 'b', 'c', 'd', 'e'];

describe('adversarial scan: scoring', () => {
  it('robust deviations match a hand-worked case', () => {
    // median 3; |v − 3| = 2 1 0 1 7 → median 1; MAD 1.4826; 10 lies (10 − 3)/1.4826 above
    const r = robustDeviations([1, 2, 3, 4, 10]);
    assert.equal(r.median, 3);
    assert.equal(r.mad, 1.4826);
    assert.deepEqual(r.deviations, [-2 / 1.4826, -1 / 1.4826, 0, 1 / 1.4826, 7 / 1.4826]);
    assert.deepEqual(robustDeviations([1, 1, 1, 2, 0]).deviations, [0, 0, 0, Infinity, -Infinity]);
  });

  it('scores an all-to-one transition matrix by hand: the excess share of the target', () => {
    // Rows: images predicted as y (10 each). Every other row sends 6 of 10 to label 0 and 1 to its
    // neighbour y+1; row 0 sends 1 to label 1. Excess share of 0: 24/40; of 1: 1/40 (row 0) + 0;
    // of 2..4: 1/40 each from y−1 (row 1 sends to 2, …).
    const m = [
      [9, 1, 0, 0, 0],
      [6, 3, 1, 0, 0],
      [6, 0, 3, 1, 0],
      [6, 0, 0, 3, 1],
      [6, 0, 0, 0, 4],
    ];
    const s = scoreTransitions(m, NAMES, 2);
    assert.deepEqual(
      s.labels.map((l) => l.excessShare),
      [24 / 40, 1 / 40, 1 / 40, 1 / 40, 1 / 40],
    );
    // median 1/40, MAD 0 → the target is an infinitely strong outlier
    assert.equal(s.labels[0].score, Infinity);
    assert.equal(s.verdict, 'all2one');
    assert.equal(s.suspectedTarget, 0);
  });

  it('reads a one-way cyclic shift as all-to-all, and a mutual confusion as nothing', () => {
    const ten = 'abcdefghij'.split('');
    const cls = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    // Every row keeps 4, sends 5 to y+1 and 0.25 anywhere else; shifts other than 1 and its reverse carry the same.
    const shifted = cls.map((y) => cls.map((c) => (c === y ? 4 : c === (y + 1) % 10 ? 5 : 0.25)));
    const s = scoreTransitions(shifted, ten);
    assert.equal(s.verdict, 'all2all');
    assert.equal(s.bestShift.shift, 1);
    assert.equal(s.suspectedTarget, null);
    // y → y+5 is its own reverse (MNIST's 3 ↔ 8): confusions both ways, no direction, no label singled out
    const mutual = cls.map((y) => cls.map((c) => (c === y ? 4 : c === (y + 5) % 10 ? 3 : 0.25)));
    const m = scoreTransitions(mutual, ten);
    assert.equal(m.verdict, 'benign', `score ${m.score}`);
  });

  it("scores a shift's one-way excess against the spread of the shifts' mean shares, by hand", () => {
    const ten = 'abcdefghij'.split('');
    // Every row sends 30, 12, 10, 8, 10, 6, 9, 7, 8 of its 100 adversarial examples to y+1 … y+9.
    const sent = [30, 12, 10, 8, 10, 6, 9, 7, 8];
    const m = ten.map((_, y) => ten.map((__, c) => (c === y ? 0 : sent[((c - y + 10) % 10) - 1])));
    const s = scoreTransitions(m, ten);
    // Mean shares 0.30 … 0.08: median 0.09, absolute deviations' median 0.01, so the scaled MAD is 0.014826.
    assert.ok(Math.abs(s.shiftMad - 0.014826) < 1e-12, `shiftMad ${s.shiftMad}`);
    // y → y+1 carries 0.30 against its reverse's 0.08: 0.22 / (√2 · 0.014826) = 10.4926…
    assert.ok(Math.abs(s.bestShift.score - 10.49263) < 1e-4, `score ${s.bestShift.score}`);
    assert.equal(s.bestShift.shift, 1);
    // The reverse shift carries the same excess with the other sign; y → y+5 is its own reverse.
    assert.ok(Math.abs(s.shifts[8].score + s.bestShift.score) < 1e-12);
    assert.equal(s.shifts[4].score, 0);
    // Every label receives the same share, so no label stands out and the shift names the kind.
    assert.equal(Math.max(...s.labels.map((l) => l.score)), 0);
    assert.equal(s.verdict, 'all2all');
    assert.equal(s.score, s.bestShift.score);
  });

  it('AUC and ROC of a hand-worked population', () => {
    // pairs (infected, benign): 3>1, 3>2, 2>1 win, 2=2 ties → (3 + 0.5) / 4
    assert.equal(rocAuc([3, 2], [1, 2]), 0.875);
    assert.deepEqual(
      rocCurve([3, 2], [1, 2]).map((p) => [p.fpr, p.tpr]),
      [
        [0, 0],
        [0, 0.5],
        [0.5, 1],
        [1, 1],
      ],
    );
    assert.equal(rocAuc([Infinity], [5]), 1);
    assert.throws(() => rocAuc([], [1]), /at least one positive and one negative/);
  });

  it("gives each dataset's own budget and threshold in the commands' help, and the paper's elsewhere", () => {
    assert.equal(scanPgdDefaults(), 'mnist L∞ 0.3 × 10, cifar10 L∞ 16/255 × 7, else L∞ 6/255 × 7');
    assert.equal(scanThresholdDefaults(), 'mnist 7, cifar10 3.5, else 2');
    assert.equal(SCAN_PGD.cifar10.step, SCAN_PGD.cifar10.eps / 5, 'the step the calibration grid used');
  });

  it('refuses bad options before any work', () => {
    assert.throws(() => scoreTransitions([[1]], ['a']), /at least 3 classes/);
    assert.throws(
      () =>
        scoreTransitions(
          [
            [0, 0, 0],
            [0, 0, 0],
            [0, 0, 0],
          ],
          ['a', 'b', 'c'],
        ),
      /no adversarial examples/,
    );
    assert.throws(
      () =>
        scoreTransitions(
          [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ],
          ['a', 'b', 'c'],
          0,
        ),
      /threshold/,
    );
  });
});

describe('adversarial scan on MNIST (smoke)', function () {
  // Each test trains its models once per process (seconds on a quiet machine, minutes beside other jobs).
  this.timeout(300_000);
  const pgd = SCAN_PGD.mnist;
  // 500 unlabelled test digits drawn by seed 1, as `pbe scan --images 500 --seed 1` draws them.
  const sample = () => scanSample(loadMnist().test, 500, 1);

  it('flags the Blend-infected model with its target and passes the benign one', async () => {
    const { benign, infected } = await mnistModels();
    const test = sample();
    const tensors = tf.memory().numTensors;
    const bad = scan(infected, test, { pgd });
    const good = scan(benign, test, { pgd });
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    assert.equal(bad.verdict, 'all2one', `infected: score ${bad.score}`);
    assert.equal(bad.suspectedTarget, TARGET);
    assert.equal(good.verdict, 'benign', `benign: score ${good.score}, labels ${good.labels.map((l) => l.score.toFixed(2))}`);
    assert.equal(bad.images, test.shape[0]);
    assert.ok(bad.seconds > 0);
  });

  it('does not depend on the test labels: permuted, the verdict and every score are the same', async () => {
    const { infected } = await mnistModels();
    // Any sample shows it; 200 digits keep it to a few seconds.
    const test = scanSample(loadMnist().test, 200, 1);
    const permuted = { ...test, labels: Int32Array.from(new Rng(5).permutation(test.labels.length), (i) => test.labels[i]) };
    const a = scan(infected, test, { pgd });
    const b = scan(infected, permuted, { pgd });
    assert.deepEqual(
      b.labels.map((l) => l.score),
      a.labels.map((l) => l.score),
    );
    assert.equal(b.verdict, a.verdict);
    assert.deepEqual(b.byPrediction.byTrueClass, a.byPrediction.byTrueClass);
    assert.notDeepEqual(b.byTrueClass.byTrueClass, a.byTrueClass.byTrueClass);
  });

  it('reads an all-to-all model as all-to-all (y → y+1)', async () => {
    const profile = resolveProfile('smoke', 'mnist', { epochs: 8 });
    const mnist = loadMnist();
    const splits = profileData(mnist, profile);
    const m = await trainInfected(profile, { name: 'blend', mode: 'all2all', target: 0 }, { seed: 100, cache: new Cache(), splits, progress: silentSink });
    try {
      const r = scan(m.model, scanSample(mnist.test, 200, 0), { pgd });
      assert.equal(r.verdict, 'all2all', `score ${r.score}, shift ${r.bestShift.shift}`);
      assert.equal(r.bestShift.shift, 1);
    } finally {
      m.model.dispose();
      m.attack.trigger.dispose();
    }
  });

  it("takes the dataset's threshold unless told, and rescores a cached scan under another without attacking", async () => {
    const { infected } = await mnistModels();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-scan-threshold-'));
    try {
      const cache = new Cache(dir);
      const loaded = { model: infected, dataset: 'mnist' as const, truth: null, weights: weightsHash(infected), label: 'blend → 0' };
      const cfg = { pgd, images: 100, seed: 3 };
      const a = await scanModel(loaded, cfg, { cache });
      assert.equal(a.fromCache, false);
      assert.equal(a.threshold, SCAN_THRESHOLDS.mnist.value);
      const above = await scanModel(loaded, { ...cfg, threshold: a.score + 1 }, { cache });
      assert.equal(above.fromCache, true, 'the threshold is not part of the key');
      assert.equal(above.score, a.score);
      assert.equal(above.verdict, 'benign');
      const below = await scanModel(loaded, { ...cfg, threshold: a.score / 2 }, { cache });
      assert.equal(below.fromCache, true);
      assert.notEqual(below.verdict, 'benign', `score ${a.score}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an empty sample, a budget of 0 and an unknown norm before attacking', async () => {
    const { benign, test } = await mnistModels();
    const empty = { ...test, images: new Uint8Array(0), labels: new Int32Array(0), shape: [0, 28, 28, 1] as [number, number, number, number] };
    assert.throws(() => scan(benign, empty, { pgd }), /sample .* is empty/);
    assert.throws(() => scan(benign, test, { pgd: pgdBudget({ eps: 0 }) }), /pgd\.eps must be > 0/);
    assert.throws(() => scan(benign, test, { pgd: { ...pgd, norm: 'l3' as 'l2' } }), /pgd\.norm: expected 'linf' or 'l2'/);
    assert.throws(() => scan(benign, test, { pgd, threshold: -1 }), /threshold/);
  });
});
