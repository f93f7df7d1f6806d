import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { createModel } from '../../src/models/registry';
import { weightsOf } from '../helpers/weights';
import { silentSink } from '../../src/progress';
import { accuracy, train, type TrainConfig } from '../../src/train/trainer';
import { requireNative, WASM_AND_NATIVE } from '../backend/native-available';
import { useBackend } from '../helpers/backend';

const CFG: TrainConfig = {
  epochs: 3,
  batchSize: 50,
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'cosine' },
  augment: { cropPadding: 2, flip: false, rotation: 5 },
};

for (const backend of WASM_AND_NATIVE) {
  describe(`train (mnist-net on real MNIST digits, ${backend})`, function () {
    const { train: fullTrain, test: fullTest } = loadMnist();
    const data = subset(fullTrain, balancedIndices(fullTrain, 40));
    const evalSet = subset(fullTest, balancedIndices(fullTest, 20));
    const modelConfig = { arch: 'mnist-net' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10 };
    let tmp: string;

    before(function () {
      if (backend === 'native') requireNative(this);
    });
    useBackend(backend);
    beforeEach(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-train-'));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('lowers the loss and beats chance by a clear margin, without leaking tensors', async () => {
      const model = createModel(modelConfig, 3);
      const before = tf.memory().numTensors;
      const result = await train(model, data, CFG, { seed: 11, evaluate: async (m) => ({ testAcc: await accuracy(m, evalSet) }), progress: silentSink });
      assert.equal(tf.memory().numTensors, before, 'tensors leaked by training');
      const h = result.history;
      assert.equal(h.length, 3);
      assert.ok(h[2].loss < h[0].loss * 0.7, `loss ${h[0].loss} → ${h[2].loss}`);
      const acc = await accuracy(model, evalSet);
      assert.ok(acc > 0.5, `clean accuracy ${acc} (chance is 0.1)`);
      assert.equal(h[2].testAcc, acc);
      model.dispose();
    });

    it('resumes an interrupted run at the last finished epoch and ends with identical weights', async () => {
      const reference = createModel(modelConfig, 5);
      await train(reference, data, CFG, { seed: 3, progress: silentSink });
      const expected = weightsOf(reference);
      reference.dispose();

      const dir = path.join(tmp, 'run');
      const first = createModel(modelConfig, 5);
      const stopped = await train(first, data, CFG, { seed: 3, checkpointDir: dir, progress: silentSink, shouldStop: (e) => e === 1 });
      assert.equal(stopped.complete, false);
      assert.equal(stopped.epochsDone, 1);
      first.dispose();

      const second = createModel(modelConfig, 5);
      const resumed = await train(second, data, CFG, { seed: 3, checkpointDir: dir, progress: silentSink });
      assert.equal(resumed.resumedFrom, 1);
      assert.equal(resumed.complete, true);
      assert.deepEqual(
        resumed.history.map((r) => r.epoch),
        [1, 2, 3],
      );
      const got = weightsOf(second);
      for (const [name, values] of Object.entries(expected)) assert.deepEqual(got[name], values, `${name} differs after resuming`);
      second.dispose();
    });

    it('starts afresh when the checkpoint belongs to another configuration', async () => {
      const dir = path.join(tmp, 'run');
      const m1 = createModel(modelConfig, 1);
      await train(m1, data, { ...CFG, epochs: 1 }, { seed: 1, checkpointDir: dir, progress: silentSink });
      m1.dispose();
      const m2 = createModel(modelConfig, 1);
      const r = await train(m2, data, { ...CFG, epochs: 1, batchSize: 40 }, { seed: 1, checkpointDir: dir, progress: silentSink });
      assert.equal(r.resumedFrom, 0);
      m2.dispose();
    });

    it('rejects bad settings with the field named', async () => {
      const m = createModel(modelConfig, 1);
      await assert.rejects(train(m, data, { ...CFG, batchSize: 0 }, { seed: 1 }), /train\.batchSize: expected an integer ≥ 1/);
      await assert.rejects(
        train(m, data, { ...CFG, optimizer: { kind: 'sgd', lr: -1, momentum: 0, weightDecay: 0 } }, { seed: 1 }),
        /optimizer\.lr: expected a finite number ≥ 0/,
      );
      m.dispose();
    });
  });
}
