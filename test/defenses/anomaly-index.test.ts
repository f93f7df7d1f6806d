import assert from 'node:assert/strict';
import { anomalyIndices, inMads, median } from '../../src/defenses/anomaly-index';

describe('Neural Cleanse anomaly index (MAD)', () => {
  it('matches a hand-worked case: one small trigger among ten classes is flagged', () => {
    // sorted: 2, 10 … 18; median (13 + 14)/2 = 13.5; |deviations| sorted 0.5 0.5 1.5 1.5 2.5 2.5 3.5 3.5 4.5 11.5
    // → median 2.5, MAD = 1.4826 × 2.5 = 3.7065; class 9: 11.5 / 3.7065 = 3.10266…
    const r = anomalyIndices([10, 11, 12, 13, 14, 15, 16, 17, 18, 2]);
    assert.equal(r.median, 13.5);
    assert.ok(Math.abs(r.mad - 3.7065) < 1e-12);
    assert.ok(Math.abs(r.indices[9] - 11.5 / 3.7065) < 1e-12);
    assert.ok(Math.abs(r.indices[8] - 4.5 / 3.7065) < 1e-12);
    assert.equal(r.anomalyIndex, r.indices[9]);
    assert.deepEqual(r.flagged, [9]);
  });

  it('never flags a large outlier, and flags nothing in a tight spread', () => {
    const big = anomalyIndices([10, 11, 12, 13, 14, 15, 16, 17, 18, 60]);
    assert.ok(big.indices[9] > 2);
    assert.deepEqual(big.flagged, []);
    const tight = anomalyIndices([10, 11, 12, 13, 14, 15, 16, 17, 18, 9]);
    assert.deepEqual(tight.flagged, []);
    assert.ok(tight.anomalyIndex < 2, `index ${tight.anomalyIndex}`);
  });

  it('orders several flagged classes by norm and uses the threshold given', () => {
    const r = anomalyIndices([20, 21, 22, 23, 24, 25, 26, 3, 1], 2);
    assert.deepEqual(r.flagged, [8, 7]);
    assert.deepEqual(anomalyIndices([20, 21, 22, 23, 24, 25, 26, 3, 1], 1e6).flagged, []);
  });

  it('treats a zero MAD as an infinite deviation for any norm off the median', () => {
    const r = anomalyIndices([5, 5, 5, 5, 1]);
    assert.equal(r.mad, 0);
    assert.deepEqual(r.indices, [0, 0, 0, 0, Infinity]);
    assert.deepEqual(r.flagged, [4]);
    // the rule the scan's shift test shares: signed, and 0 stays 0
    assert.deepEqual([inMads(0, 0), inMads(0.1, 0), inMads(-0.1, 0), inMads(0.3, 0.1)], [0, Infinity, -Infinity, 0.3 / 0.1]);
  });

  it('takes numpy medians and rejects bad input with the class named', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => anomalyIndices([1, 2]), /at least 3 classes/);
    assert.throws(() => anomalyIndices([1, NaN, 3]), /class 1 is NaN/);
    assert.throws(() => anomalyIndices([1, 2, 3], 0), /threshold must be > 0/);
  });
});
