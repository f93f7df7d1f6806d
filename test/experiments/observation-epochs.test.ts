import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pgdBudget } from '../../src/attacks/adversarial/pgd';
import { trainInfected } from '../../src/attacks/backdoor/run';
import { adversarialLabelDistribution } from '../../src/analysis';
import { Cache } from '../../src/cache';
import { loadDataset } from '../../src/data/registry';
import { analysisImages } from '../../src/experiments/observe';
import { observationOverEpochs } from '../../src/experiments/observation-epochs';
import { weightsHash } from '../../src/models/weights';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { resolveProfile } from '../../src/train/profiles';
import { epochSnapshot, profileData, trainBenign } from '../../src/train/run';
import { pipelineBackend, useBackend } from '../helpers/backend';

describe('pbe observe-epochs: the observation after every training epoch', function () {
  useBackend(pipelineBackend());
  this.timeout(120_000);

  it("keeps each epoch's weights, measures both models at each, agrees with the final model, reads the result back, and resumes at the first epoch not measured", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-epochs-'));
    try {
      const cache = new Cache(dir);
      const profile = resolveProfile('smoke', 'mnist');
      const attack = { name: 'blend', mode: 'all2one' as const, target: 3 };
      const pgd = pgdBudget({ eps: 0.1, iterations: 5 });
      const cfg = { profile, attack, seed: 0, pgd, images: 100 };
      const first = await observationOverEpochs(cfg, { cache, progress: silentSink });
      assert.equal(first.fromCache, false);
      assert.deepEqual(
        first.epochs.map((e) => e.epoch),
        Array.from({ length: profile.train.epochs }, (_, e) => e + 1),
      );
      for (const e of first.epochs) for (const v of [e.infectedTargetShare, e.benignTargetShare]) assert.ok(v >= 0 && v <= 1);

      // The last epoch's weights are the cached model's: the same share when measured on it directly.
      const full = await loadDataset('mnist', { cache });
      const splits = profileData(full, profile);
      const infected = await trainInfected(profile, attack, { seed: 0, cache, splits, progress: silentSink });
      try {
        assert.equal(infected.fromCache, true);
        const images = analysisImages(full, splits, 100);
        const rng = new Rng(0).fork('observation-epochs').fork('infected');
        const direct = adversarialLabelDistribution(infected.model, images, pgd, { batchSize: 128, rng });
        assert.equal(first.epochs.at(-1)!.infectedTargetShare, direct.overall[3] / 100);
        const final = weightsHash(infected.model);
        assert.ok(await epochSnapshot(cache, infected.record.key, 1, infected.model));
        assert.notEqual(weightsHash(infected.model), final, 'the first epoch differs from the last');
        assert.equal(first.epochs[0].infectedAcc, infected.record.history[0].testAcc);
      } finally {
        infected.model.dispose();
        infected.attack.trigger.dispose();
      }

      const again = await observationOverEpochs(cfg, { cache, progress: silentSink });
      assert.equal(again.fromCache, true);
      assert.deepEqual(again.epochs, first.epochs);

      // Interrupted after its first epoch's measurement: the result and the later epochs' entries
      // gone, it measures only those epochs again (a PGD run per model and epoch) and ends where it did.
      const observations = fs.readdirSync(path.join(dir, 'observations')).map((d) => ({
        dir: path.join(dir, 'observations', d),
        config: (JSON.parse(fs.readFileSync(path.join(dir, 'observations', d, 'manifest.json'), 'utf8')) as { config: { kind: string; epoch?: number } })
          .config,
      }));
      assert.equal(observations.filter((e) => e.config.kind === 'observation-epoch').length, profile.train.epochs);
      for (const e of observations) if (e.config.kind === 'observation-epochs' || (e.config.epoch ?? 0) > 1) fs.rmSync(e.dir, { recursive: true });
      const finished: string[] = [];
      const resumed = await observationOverEpochs(cfg, { cache, progress: (u) => void (u.done === u.total && finished.push(u.label)) });
      assert.equal(resumed.fromCache, false);
      assert.deepEqual(resumed.epochs, first.epochs);
      assert.equal(finished.length, 2 * (profile.train.epochs - 1), finished.join('; '));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a model cached without its epochs before training anything else', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-epochs-'));
    try {
      const cache = new Cache(dir);
      const profile = resolveProfile('smoke', 'mnist');
      const benign = await trainBenign(profile, { seed: 1, cache, progress: silentSink });
      benign.model.dispose();
      const pgd = pgdBudget({ iterations: 2 });
      await assert.rejects(
        observationOverEpochs({ profile, attack: { name: 'blend', mode: 'all2one', target: 0 }, seed: 1, pgd, images: 20 }, { cache, progress: silentSink }),
        /benign .* is cached .* without the weights of epoch\(s\) 1, 2, 3/,
      );
      assert.equal(fs.readdirSync(path.join(dir, 'models')).length, 1, 'no infected model was trained');
      await assert.rejects(
        observationOverEpochs({ profile, attack: { name: 'blend', mode: 'all2all', target: 0 }, seed: 1, pgd, images: 20 }, { cache, progress: silentSink }),
        /attack\.mode: expected 'all2one'/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
