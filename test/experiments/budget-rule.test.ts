import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainInfected } from '../../src/attacks/backdoor/run';
import { Cache } from '../../src/cache';
import { loadDataset } from '../../src/data/registry';
import { chooseBudget } from '../../src/defenses/pgd-budget-rule';
import { defenderBudget } from '../../src/experiments/budget-rule';
import { defenderCleanSet, defenderView } from '../../src/experiments/defend';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { profileData } from '../../src/train/run';
import { pipelineBackend, useBackend } from '../helpers/backend';

describe('pbe budget: the defender-side rule on an infected model, through the cache', function () {
  useBackend(pipelineBackend());
  this.timeout(120_000);

  it('scores every budget on the clean extra set that defend --clean-data gives PBE, keeps the result, and reads it back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-budget-'));
    try {
      const cache = new Cache(dir);
      const profile = resolveProfile('smoke', 'mnist');
      const attack = { name: 'blend', mode: 'all2one' as const, target: 0 };
      const grid = [0.1, 0.3].map((eps) => ({ norm: 'linf' as const, eps }));
      const cfg = { profile, attack, seed: 0, grid, minMisclassified: 0.3 };
      const first = await defenderBudget(cfg, { cache, progress: silentSink });
      assert.equal(first.fromCache, false);
      assert.deepEqual(
        first.scores.map((s) => s.eps),
        [0.1, 0.3],
      );

      // The same images as defend's setting A, attacked directly.
      const splits = profileData(await loadDataset('mnist', { cache }), profile);
      const infected = await trainInfected(profile, attack, { seed: 0, cache, splits, progress: silentSink });
      try {
        const clean = defenderCleanSet(defenderView(infected, 0), splits.train, { seed: 0 });
        assert.equal(first.cleanImages, clean.shape[0]);
        const direct = chooseBudget(infected.model, clean, { grid, minMisclassified: 0.3, iterations: 7, batchSize: profile.train.batchSize });
        assert.deepEqual(first.scores, direct.scores);
        assert.deepEqual(first.chosen, direct.chosen);
      } finally {
        infected.model.dispose();
        infected.attack.trigger.dispose();
      }

      const again = await defenderBudget(cfg, { cache, progress: silentSink });
      assert.equal(again.fromCache, true);
      assert.deepEqual(again.scores, first.scores);
      assert.ok(fs.existsSync(again.reportFile), 'the report file is written again from the cache');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
