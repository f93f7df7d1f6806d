import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { dynamicConfigFor } from '../../src/attacks/backdoor/dynamic/config';
import type { InfectedModel } from '../../src/attacks/backdoor/attack';
import { trainInfected } from '../../src/attacks/backdoor/run';
import { Cache } from '../../src/cache';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { pipelineBackend, useBackend } from '../helpers/backend';

/**
 * The attack pipeline on MNIST's smoke profile: the history holds each epoch's clean accuracy and
 * ASR, and the last epoch's numbers are the model's final ones (same model, same test sets).
 */
describe('trainInfected: per-epoch ACC and ASR (mnist, smoke)', function () {
  let dir: string;
  useBackend(pipelineBackend());
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-infected-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function release(r: InfectedModel): void {
    r.model.dispose();
    r.attack.trigger.dispose();
  }

  it('gives the dynamic classifier the benign schedule (epochs, optimiser, augmentation) on every CPU profile; paper keeps the reference', () => {
    for (const profile of [resolveProfile('smoke', 'mnist'), resolveProfile('cpu', 'cifar10'), resolveProfile('cpu', 'cifar10', { epochs: 7, lr: 0.02 })]) {
      const d = dynamicConfigFor(profile);
      assert.equal(d.epochs, profile.train.epochs, `${profile.profile}: joint epochs`);
      assert.deepEqual(d.classifierOptimizer, profile.train.optimizer);
      assert.deepEqual(d.augment, profile.train.augment);
    }
    assert.equal(dynamicConfigFor(resolveProfile('paper', 'cifar10')).epochs, 600);
  });

  for (const name of ['badnets', 'dynamic'] as const) {
    it(`${name}: every epoch records test ACC and ASR; the last equals the final evaluation; a cached reload agrees`, async () => {
      const cache = new Cache(dir);
      // Half the smoke data and two epochs: the bookkeeping needs no more (half the time).
      const profile = resolveProfile('smoke', 'mnist', { epochs: 2, trainPerClass: 30 });
      const tensors = tf.memory().numTensors;
      const first = await trainInfected(profile, { name, mode: 'all2one', target: 0 }, { seed: 0, cache, progress: silentSink });
      const h = first.record.history;
      assert.equal(first.fromCache, false);
      assert.equal(h.length, profile.train.epochs);
      for (const e of h) {
        assert.ok(e.testAcc !== null && e.testAcc >= 0 && e.testAcc <= 1, `epoch ${e.epoch}: testAcc ${e.testAcc}`);
        assert.ok(e.asr !== undefined && e.asr >= 0 && e.asr <= 1, `epoch ${e.epoch}: asr ${e.asr}`);
      }
      assert.equal(h.at(-1)!.testAcc, first.acc);
      if (name === 'badnets') assert.equal(h.at(-1)!.asr, first.asr);
      // The dynamic attack's per-epoch ASR is on float triggers, the final one on uint8-rounded images.
      else assert.ok(Math.abs(h.at(-1)!.asr! - first.asr) <= 0.02, `per-epoch ASR ${h.at(-1)!.asr} vs final ${first.asr}`);
      release(first);

      const again = await trainInfected(profile, { name, mode: 'all2one', target: 0 }, { seed: 0, cache, progress: silentSink });
      assert.equal(again.fromCache, true);
      assert.deepEqual(again.record.history, h);
      assert.equal(again.acc, first.acc);
      assert.equal(again.asr, first.asr);
      release(again);
      assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    });
  }
});
