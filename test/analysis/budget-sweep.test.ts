import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { budgetPgdConfig, budgetSweep, budgetSweepSpec } from '../../src/analysis/budget-sweep';
import { subset } from '../../src/data/dataset';
import { compileVegaLite, renderSvg } from '../../src/plots/vega';
import { mnistModels } from './fixtures';

describe('budget sweep', function () {
  it('scales the step with ε by the reference code’s rule or Madry’s', () => {
    assert.deepEqual(budgetPgdConfig('linf', 0.1), { norm: 'linf', eps: 0.1, step: 0.02, iterations: 7, randomStart: false, targeted: false });
    assert.deepEqual(budgetPgdConfig('l2', 1.4, 7, 'madry'), { norm: 'l2', eps: 1.4, step: 0.5, iterations: 7, randomStart: false, targeted: false });
    assert.throws(() => budgetPgdConfig('l2', 1, 7, 'fixed' as 'ref'), /stepRule: expected 'ref' or 'madry', got 'fixed'/);
  });

  it('returns tidy rows per (attack, norm, ε) and a faceted line chart', async () => {
    const { benign, infected, attack, test } = await mnistModels();
    const images = subset(
      test,
      Int32Array.from({ length: 100 }, (_, i) => i),
    );
    const attacks = [{ name: 'blend', infected, trigger: attack.trigger, rule: attack.rule }];
    const before = tf.memory().numTensors;
    const rows = budgetSweep(benign, attacks, images, { eps: { linf: [0.05, 0.1], l2: [1.5] }, batchSize: 100 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.deepEqual(
      rows.map((r) => [r.attack, r.norm, r.eps, r.step, r.n]),
      [
        ['blend', 'linf', 0.05, 0.01, 90],
        ['blend', 'linf', 0.1, 0.02, 90],
        ['blend', 'l2', 1.5, 0.3, 90],
      ],
    );
    for (const r of rows) {
      console.log(
        `      ${r.norm} ε ${r.eps}: target share infected ${r.targetShareInfected.toFixed(3)} / benign ${r.targetShareBenign.toFixed(3)}, ` +
          `changed ${r.successInfected.toFixed(2)} / ${r.successBenign.toFixed(2)}; D_infected ${r.dInfected.toFixed(3)}, D_benign ${r.dBenign.toFixed(3)} (f = ${r.extractor})`,
      );
      assert.ok(r.targetShareInfected > r.targetShareBenign, `${r.norm} ε ${r.eps}: ${r.targetShareInfected} vs ${r.targetShareBenign}`);
      assert.ok(Math.abs(r.ratio - r.dInfected / r.dBenign) < 1e-12);
    }
    assert.ok(rows[1].targetShareInfected > rows[0].targetShareInfected, 'a larger L∞ budget sends more to the target');

    const spec = budgetSweepSpec(rows);
    compileVegaLite(spec);
    assert.equal((spec.data as { values: unknown[] }).values.length, 4 * rows.length);
    assert.match(await renderSvg(spec), /perturbation budget/);
    assert.throws(() => budgetSweep(benign, attacks, images, { eps: {}, batchSize: 10 }), /budgetSweep\.eps: give at least one budget/);
    assert.throws(() => budgetSweep(benign, [], images, { eps: { linf: [0.1] }, batchSize: 10 }), /at least one infected model/);
  });
});
