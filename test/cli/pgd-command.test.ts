import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateAdversarial } from '../../src/experiments/pgd';
import { pgd, PGD_DEFAULT } from '../../src/attacks/adversarial/pgd';
import { useBackend } from '../helpers/backend';
import { useTempCacheDir } from '../helpers/temp-cache';
import { Cache } from '../../src/cache';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadDataset } from '../../src/data/registry';
import { main } from '../../src/cli/main';
import { captured } from './capture';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { profileData, trainBenign } from '../../src/train/run';

/** `pbe pgd` and the library call behind it, on the smoke profile's mnist-net (trained once into a temporary cache). */
describe('adversarial evaluation of the benign model (pbe pgd)', function () {
  this.timeout(120000);
  const profile = resolveProfile('smoke', 'mnist');
  useBackend('wasm');
  const cacheDir = useTempCacheDir('pbe-pgd-');

  it('reports the accuracy PGD leaves, matching an independent run of pgd on the same images', async () => {
    const cache = new Cache(cacheDir());
    const out = path.join(cacheDir(), 'report.json');
    const r = await evaluateAdversarial({ profile, seed: 0, pgd: PGD_DEFAULT, images: 100, batchSize: 64 }, { cache, progress: silentSink, out });
    assert.equal(r.images, 100);
    assert.ok(r.robustAccuracy < r.cleanAccuracy, `adversarial ${r.robustAccuracy} vs clean ${r.cleanAccuracy}`);
    assert.ok(r.seconds > 0);
    assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')).robustAccuracy, r.robustAccuracy);
    assert.equal(r.runtime.backend, 'wasm');

    const full = await loadDataset('mnist', { cache });
    const images = subset(full.test, balancedIndices(full.test, 10));
    const { model } = await trainBenign(profile, { seed: 0, cache, splits: profileData(full, profile), progress: silentSink });
    const before = tf.memory().numTensors;
    const correct = tf.tidy(() => {
      const x = tf.div(tf.tensor4d(images.images, images.shape, 'float32'), 255) as tf.Tensor4D;
      const y = tf.tensor1d(images.labels, 'int32');
      const adv = pgd(model, x, y, PGD_DEFAULT);
      return tf.sum(tf.cast(tf.equal(tf.argMax(model.predict(adv), 1), y), 'int32')).dataSync()[0];
    });
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
    assert.equal(r.robustAccuracy, correct / 100);
  });

  it('pbe pgd runs from the command line and rejects contradictory options', async () => {
    const out = path.join(cacheDir(), 'cli.json');
    const { status, text } = await captured(() =>
      main(['pgd', '--dataset', 'mnist', '--profile', 'smoke', '--fgsm', '--eps', '0.1', '--images', '50', '--out', out]),
    );
    assert.equal(status, 0);
    assert.match(text, /FGSM against the benign mnist-net .* on 50 test images/);
    assert.match(text, /attack time [\d.]+ s/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as { config: { pgd: { iterations: number; step: number; eps: number } }; images: number };
    assert.deepEqual([report.images, report.config.pgd.iterations, report.config.pgd.step], [50, 1, 0.1]);
    for (const [argv, message] of [
      [['pgd', '--dataset', 'mnist', '--fgsm', '--norm', 'l2'], /--fgsm is an L∞ attack/],
      [['pgd', '--dataset', 'mnist', '--fgsm', '--iterations', '3'], /--fgsm takes one step/],
      [['pgd', '--dataset', 'mnist', '--epochs', '0'], /--epochs expects an integer ≥ 1, got '0'/],
      [['attack', '--dataset', 'mnist', '--attack', 'nope'], /unknown --attack 'nope'/],
    ] as const) {
      const r = await captured(() => main([...argv]));
      assert.equal(r.status, 2, argv.join(' '));
      assert.match(r.text, message);
    }
  });
});
