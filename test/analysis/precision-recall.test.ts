import assert from 'node:assert/strict';
import { precisionRecall, thinCurve } from '../../src/analysis/precision-recall';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

describe('precision–recall and step-wise average precision (hand-worked cases)', () => {
  it('interleaved ranking: AP = ½·1 + ½·⅔ = 5/6', () => {
    const r = precisionRecall([0.9, 0.8, 0.7, 0.6], [true, false, true, false]);
    close(r.ap, 5 / 6);
    assert.deepEqual(
      r.points.map((p) => [p.precision, p.recall]),
      [
        [1, 0.5],
        [0.5, 0.5],
        [2 / 3, 1],
        [0.5, 1],
      ],
    );
  });

  it('ties form one threshold: scores 0.5, 0.5, 0.5, 0.1 with labels 1, 0, 1, 1 give ⅔·⅔ + ⅓·¾ = 25/36', () => {
    const r = precisionRecall([0.5, 0.5, 0.5, 0.1], [true, false, true, true]);
    close(r.ap, (2 / 3) * (2 / 3) + (1 / 3) * (3 / 4));
    assert.equal(r.points.length, 2);
    // The order of tied images does not matter.
    close(precisionRecall([0.5, 0.5, 0.5, 0.1], [false, true, true, true]).ap, r.ap);
    // All tied: AP is the positive share.
    close(precisionRecall([1, 1, 1, 1], [true, false, false, false]).ap, 0.25);
  });

  it('perfect, reversed and unordered input', () => {
    close(precisionRecall([3, 2, 1], [true, true, false]).ap, 1);
    close(precisionRecall([3, 2, 1], [false, false, true]).ap, 1 / 3);
    close(precisionRecall([1, 3, 2], [true, false, false]).ap, 1 / 3);
    assert.equal(precisionRecall([1, 3, 2], [true, false, true]).positives, 2);
  });

  it('rejects what it cannot rank', () => {
    assert.throws(() => precisionRecall([1, 2], [false, false]), /no positive example/);
    assert.throws(() => precisionRecall([1, 2], [true]), /2 scores but 1 labels/);
    assert.throws(() => precisionRecall([1, NaN], [true, false]), /score 1 is NaN/);
  });

  it('thins a long curve keeping its ends', () => {
    const r = precisionRecall(
      Array.from({ length: 1000 }, (_, i) => i),
      Array.from({ length: 1000 }, (_, i) => i % 3 === 0),
    );
    const thin = thinCurve(r.points, 50);
    assert.equal(thin.length, 50);
    assert.deepEqual(thin[0], r.points[0]);
    assert.deepEqual(thin[49], r.points[999]);
  });
});
