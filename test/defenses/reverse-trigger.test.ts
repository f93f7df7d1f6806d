import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers/backend';
import { CostSchedule, fromTanh, maskNorm, NC_COST_DEFAULTS, reverseLoss, stampTrigger, toTanh } from '../../src/defenses/reverse-trigger';

describe('Neural Cleanse trigger parametrisation and cost schedule', () => {
  useBackend('wasm');

  it("maps tanh space into [0, 1] (to within the authors' ε) and back", () => {
    const raw = tf.tensor1d([-50, -1, 0, 0.5, 50]);
    const v = fromTanh(raw);
    const got = v.dataSync();
    assert.ok(got.every((x) => x >= -1e-6 && x <= 1 + 1e-6));
    assert.ok(Math.abs(got[2] - 0.5) < 1e-7);
    const back = fromTanh(toTanh(tf.tensor1d([0.1, 0.5, 0.9]))).dataSync();
    [0.1, 0.5, 0.9].forEach((x, i) => assert.ok(Math.abs(back[i] - x) < 1e-5));
    tf.dispose([raw, v]);
  });

  it('stamps (1 − m)·x + m·Δ with the mask shared by the channels', () => {
    const x = tf.tensor4d([0.2, 0.4, 0.6, 0.8, 1, 0, 0.5, 0.5], [1, 2, 2, 2]);
    const mask = tf.tensor3d([1, 0, 0.5, 0], [2, 2, 1]);
    const pattern = tf.fill([2, 2, 2], 0.9) as tf.Tensor3D;
    const out = stampTrigger(x, { mask, pattern }).dataSync();
    const expected = [0.9, 0.9, 0.6, 0.8, 0.95, 0.45, 0.5, 0.5];
    expected.forEach((e, i) => assert.ok(Math.abs(out[i] - e) < 1e-6, `pixel ${i}: ${out[i]} vs ${e}`));
    assert.equal(maskNorm(mask).dataSync()[0], 1.5);
    tf.dispose([x, mask, pattern]);
  });

  it('adds cost × |m|₁ to the mean cross-entropy toward the target', () => {
    const logits = tf.tensor2d([
      [2, 0, 0],
      [0, 1, 0],
    ]);
    const mask = tf.tensor3d([0.5, 0.25], [1, 2, 1]);
    const { loss, ce, reg } = reverseLoss(logits, 0, mask, 0.1);
    const ce0 = -Math.log(Math.exp(2) / (Math.exp(2) + 2));
    const ce1 = -Math.log(1 / (2 + Math.E));
    assert.ok(Math.abs(ce.dataSync()[0] - (ce0 + ce1) / 2) < 1e-5);
    assert.equal(reg.dataSync()[0], 0.75);
    assert.ok(Math.abs(loss.dataSync()[0] - ((ce0 + ce1) / 2 + 0.075)) < 1e-5);
    tf.dispose([logits, mask, loss, ce, reg]);
  });

  it("follows the authors' cost controller step by step", () => {
    const s = new CostSchedule(NC_COST_DEFAULTS);
    // Failing steps while the cost is 0 change nothing but the down counter (0 / 2^1.5 = 0).
    for (let i = 0; i < 3; i++) s.update(0.5, 100);
    assert.equal(s.cost, 0);
    assert.equal(s.regBest, Infinity);
    // Five successes in a row: the fifth sets the cost to initCost and restarts the up counter.
    for (let i = 0; i < 4; i++) s.update(1, 90 - i);
    assert.equal(s.cost, 0);
    assert.equal(s.regBest, 87);
    s.update(1, 86);
    assert.equal(s.cost, 1e-3);
    // Five failures: down by 2^1.5.
    for (let i = 0; i < 5; i++) s.update(0.2, 50);
    assert.ok(Math.abs(s.cost - 1e-3 / 2 ** 1.5) < 1e-15);
    assert.equal(s.regBest, 86, 'failed steps never become the best trigger');
    // Five successes: up by 2. The steps since the last smaller best norm (8 → 25 of them) then stop
    // the run, since the cost has moved both ways: 20 steps after the failures.
    for (let i = 0; i < 5; i++) s.update(1, 86);
    assert.ok(Math.abs(s.cost - 2e-3 / 2 ** 1.5) < 1e-15);
    let steps = 5;
    while (!s.stopped && steps < 100) {
      s.update(1, 86);
      steps++;
    }
    assert.ok(s.stopped);
    assert.equal(steps, 20);
  });

  it('rejects a cost multiplier that cannot move the cost', () => {
    assert.throws(() => new CostSchedule({ ...NC_COST_DEFAULTS, costMultiplier: 1 }), /costMultiplier must be > 1/);
  });
});
