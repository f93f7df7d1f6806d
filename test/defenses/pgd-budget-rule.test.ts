import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tallyAdversarialLabels } from '../../src/analysis/label-matrix';
import { trainInfected } from '../../src/attacks/backdoor/run';
import { Cache } from '../../src/cache';
import { loadDataset } from '../../src/data/registry';
import { chooseBudget, concentration } from '../../src/defenses/pgd-budget-rule';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { profileData, trainBenign } from '../../src/train/run';
import { pipelineBackend, useBackend } from '../helpers/backend';

describe('the defender-side PGD budget rule', function () {
  useBackend(pipelineBackend());

  it('concentration: the label most misclassified adversarial examples go to, and its share of them', () => {
    const names = ['a', 'b', 'c', 'd'];
    // true labels, clean predictions (all right), adversarial predictions
    const truth = [0, 0, 0, 1, 1, 2, 2, 3, 3, 3];
    const adv = [2, 2, 0, 2, 0, 1, 2, 2, 3, 1];
    const d = tallyAdversarialLabels(names, truth, truth, adv);
    // Misclassified: 0→2, 0→2, 1→2, 1→0, 2→1, 3→2, 3→1: 7 of 10; label 2 gets 4 of them.
    assert.deepEqual(concentration(d), { label: 2, share: 4 / 7, misclassified: 7 / 10 });
    assert.deepEqual(concentration(tallyAdversarialLabels(names, truth, truth, truth)), { label: 0, share: 0, misclassified: 0 });
  });

  it("on MNIST smoke: the infected Blend model's chosen budget points at the target, more concentrated than the benign model's", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-budget-rule-'));
    try {
      const cache = new Cache(dir);
      const profile = resolveProfile('smoke', 'mnist');
      const splits = profileData(await loadDataset('mnist', { cache }), profile);
      const infected = await trainInfected(profile, { name: 'blend', mode: 'all2one', target: 0 }, { seed: 0, cache, splits, progress: silentSink });
      const benign = await trainBenign(profile, { seed: 0, cache, splits, progress: silentSink });
      // The defender's images: the clean test digits stand in for an extra set here. MNIST takes larger budgets than CIFAR-10's grid.
      const grid = [0.05, 0.1, 0.2, 0.3].map((eps) => ({ norm: 'linf' as const, eps }));
      const opts = { grid, batchSize: 100, minMisclassified: 0.3 };
      const onInfected = chooseBudget(infected.model, splits.test, opts);
      const onBenign = chooseBudget(benign.model, splits.test, opts);
      const line = (r: typeof onInfected) =>
        r.scores.map((s) => `ε ${s.eps}: ${(100 * s.misclassified).toFixed(0)}% misled, ${(100 * s.concentration).toFixed(0)}% → ${s.label}`).join('; ');
      console.log(`      infected: ${line(onInfected)}\n      benign:   ${line(onBenign)}`);
      assert.ok(onInfected.chosen && onBenign.chosen, 'some budget misleads 30% of the digits');
      assert.equal(onInfected.chosen.label, 0, 'the infected model points at its target');
      assert.ok(
        onInfected.chosen.concentration > onBenign.chosen.concentration,
        `concentration ${onInfected.chosen.concentration} infected vs ${onBenign.chosen.concentration} benign`,
      );
      for (const s of onInfected.scores) if (s.misclassified < 0.3) assert.notEqual(onInfected.chosen, s, 'an ineligible budget was chosen');
      infected.model.dispose();
      infected.attack.trigger.dispose();
      benign.model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad grid or share before any PGD runs', () => {
    const images = { shape: [0, 28, 28, 1], name: 'none' } as unknown as Parameters<typeof chooseBudget>[1];
    const model = {} as Parameters<typeof chooseBudget>[0];
    assert.throws(() => chooseBudget(model, images, { batchSize: 10, grid: [] }), /budget rule grid: expected at least one/);
    assert.throws(() => chooseBudget(model, images, { batchSize: 10, grid: [{ norm: 'l1' as 'l2', eps: 1 }] }), /norm expected 'linf' or 'l2', got 'l1'/);
    assert.throws(() => chooseBudget(model, images, { batchSize: 10, grid: [{ norm: 'l2', eps: 0 }] }), /eps expected a number > 0, got 0/);
    assert.throws(() => chooseBudget(model, images, { batchSize: 10, minMisclassified: 2 }), /minMisclassified: expected a share in \[0, 1\], got 2/);
    assert.throws(() => chooseBudget(model, images, { batchSize: 10 }), /budget rule: none has no image to attack/);
  });
});
