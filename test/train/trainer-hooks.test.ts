import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PGD_DEFAULT, pgd } from '../../src/attacks/adversarial/pgd';
import { pipelineBackend, useBackend } from '../helpers/backend';
import { Cache } from '../../src/cache';
import { makeBatch } from '../../src/data/augment';
import { balancedIndices, type FloatDataset, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { createModel } from '../../src/models/registry';
import { weightsHash } from '../../src/models/weights';
import { weightsOf } from '../helpers/weights';
import { silentSink } from '../../src/progress';
import { fineTuneOrLoad } from '../../src/train/run';
import { predictLabels, train, type TrainConfig } from '../../src/train/trainer';

const CFG: TrainConfig = {
  epochs: 2,
  batchSize: 50,
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'constant' },
  augment: { cropPadding: 2, flip: false, rotation: 0 },
};
const MODEL = { arch: 'mnist-net' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10 };

describe('trainer capabilities for defenses (mnist-net on MNIST digits)', function () {
  const { train: fullTrain } = loadMnist();
  const data = subset(fullTrain, balancedIndices(fullTrain, 20));
  let tmp: string;

  useBackend(pipelineBackend());
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-hooks-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('prepareBatch runs PGD against the current model outside gradient recording and its batch is the one trained on', async () => {
    const model = createModel(MODEL, 1);
    const before = tf.memory().numTensors;
    let crafted = 0;
    await train(model, data, CFG, {
      seed: 2,
      progress: silentSink,
      prepareBatch: (m, { x, y }) => {
        // PGD differentiates the model itself: inside tf.variableGrads this failed on MaxPoolGrad.
        const adv = pgd(m, x, y, { ...PGD_DEFAULT, iterations: 2 });
        crafted += x.shape[0];
        tf.dispose(adv);
        // Replace by an all-zero-labelled batch: a model trained on it predicts 0 everywhere.
        return { x: tf.clone(x), y: tf.zerosLike(y) };
      },
    });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.equal(crafted, 2 * data.shape[0]);
    const pred = await predictLabels(model, data);
    const zeros = pred.filter((p) => p === 0).length;
    assert.ok(zeros > 0.95 * pred.length, `${zeros}/${pred.length} predicted 0: the replacement batch was not trained on`);
    model.dispose();
  });

  it('trainable filter: frozen params keep their values bit for bit, the others move', async () => {
    const model = createModel(MODEL, 1);
    const start = weightsOf(model);
    await train(model, data, { ...CFG, epochs: 1 }, { seed: 2, progress: silentSink, trainable: (name) => name.startsWith('fc2.') });
    const end = weightsOf(model);
    for (const name of model.params.keys()) {
      if (name.startsWith('fc2.')) assert.notDeepEqual(end[name], start[name], `${name} did not train`);
      else assert.deepEqual(end[name], start[name], `${name} changed although frozen`);
    }
    await assert.rejects(train(model, data, CFG, { seed: 2, progress: silentSink, trainable: () => false }), /trainable filter leaves no parameter/);
    model.dispose();
  });

  it('afterStep keeps pruned weights at zero through training', async () => {
    const model = createModel(MODEL, 1);
    const w = model.params.get('conv2.weight')!;
    const [kh, kw, cin, cout] = w.shape;
    const mask = tf.tidy(() => tf.tile(tf.reshape(tf.tensor1d(Array.from({ length: cout }, (_, i) => (i < 4 ? 0 : 1))), [1, 1, 1, cout]), [kh, kw, cin, 1]));
    const prune = () => tf.tidy(() => w.assign(tf.mul(w, mask)));
    prune();
    let steps = 0;
    await train(
      model,
      data,
      { ...CFG, epochs: 1 },
      {
        seed: 2,
        progress: silentSink,
        afterStep: () => {
          prune();
          steps++;
        },
      },
    );
    assert.equal(steps, Math.ceil(data.shape[0] / CFG.batchSize));
    const values = w.dataSync();
    for (let i = 0; i < values.length; i++) if (i % cout < 4) assert.ok(values[i] === 0, `pruned weight ${i} is ${values[i]}`);
    assert.ok(Array.from(values).some((v, i) => i % cout >= 4 && v !== 0));
    mask.dispose();
    model.dispose();
  });

  it('modulate changes a parameter for one pass only, equals loading the changed weights, and passes gradients', () => {
    const model = createModel(MODEL, 3);
    const x = tf.tensor4d(makeBatch(data, [0, 1, 2, 3]), [4, 28, 28, 1]);
    const scale = tf.variable(tf.fill([16], 0.5), true);
    const modulate = (name: string, v: tf.Variable) => (name === 'bn1.gamma' ? tf.mul(v, scale) : v);
    const plain = model.predict(x);
    const modulated = model.forward(x, { training: false, modulate }).logits;
    const after = model.predict(x);
    assert.deepEqual(after.dataSync(), plain.dataSync(), 'modulation outlived its pass');

    const edited = model.clone();
    const gamma = tf.mul(edited.params.get('bn1.gamma')!, 0.5);
    edited.params.get('bn1.gamma')!.assign(gamma);
    const reference = edited.predict(x);
    const ref = reference.dataSync();
    const got = modulated.dataSync();
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-5, `logit ${i}: ${got[i]} vs ${ref[i]}`);

    // d(sum of logit 0)/d(scale[c]) against a central finite difference.
    const lossAt = (s: tf.Tensor) =>
      tf.tidy(() =>
        tf.sum(tf.slice(model.forward(x, { training: false, modulate: (n, v) => (n === 'bn1.gamma' ? tf.mul(v, s) : v) }).logits, [0, 0], [-1, 1])),
      );
    const { grads, value } = tf.variableGrads(() => lossAt(scale) as tf.Scalar, [scale]);
    const g = grads[scale.name].dataSync();
    const h = 1e-2;
    for (const c of [0, 5]) {
      const bump = (d: number) => tf.tidy(() => tf.add(scale, tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([c], 'int32'), 16), [16]), d)));
      const [up, down] = [bump(h), bump(-h)];
      const fd = (lossAt(up).dataSync()[0] - lossAt(down).dataSync()[0]) / (2 * h);
      assert.ok(Math.abs(fd - g[c]) < 2e-2 * Math.max(1, Math.abs(fd)), `channel ${c}: gradient ${g[c]}, finite difference ${fd}`);
      tf.dispose([up, down]);
    }
    tf.dispose([x, scale, plain, modulated, after, gamma, reference, value, ...Object.values(grads)]);
    edited.dispose();
    model.dispose();
  });

  it('clone copies every param and state tensor into an independent model', async () => {
    const model = createModel(MODEL, 4);
    await train(model, data, { ...CFG, epochs: 1 }, { seed: 1, progress: silentSink });
    const before = tf.memory().numTensors;
    const copy = model.clone();
    assert.equal(weightsHash(copy), weightsHash(model));
    assert.deepEqual(await predictLabels(copy, data), await predictLabels(model, data));
    const original = weightsOf(model);
    await train(copy, data, { ...CFG, epochs: 1 }, { seed: 9, progress: silentSink });
    assert.notEqual(weightsHash(copy), weightsHash(model));
    assert.deepEqual(weightsOf(model), original, 'training the clone changed the original');
    copy.dispose();
    assert.equal(tf.memory().numTensors, before, 'clone leaked tensors');
    model.dispose();
  });

  it('a checkpoint is not resumed by a run that starts from other weights', async () => {
    const dir = path.join(tmp, 'run');
    const a = createModel(MODEL, 1);
    await train(a, data, CFG, { seed: 1, checkpointDir: dir, progress: silentSink, shouldStop: () => true });
    const b = createModel(MODEL, 2);
    const r = await train(b, data, CFG, { seed: 1, checkpointDir: dir, progress: silentSink });
    assert.equal(r.resumedFrom, 0);
    const c = createModel(MODEL, 1);
    const again = await train(c, data, CFG, { seed: 1, checkpointDir: dir, progress: silentSink, hooksKey: { other: true } });
    assert.equal(again.resumedFrom, 0, 'resumed a checkpoint made with other hooks');
    [a, b, c].forEach((m) => m.dispose());
  });

  it('fineTuneOrLoad: keyed by the starting weights, resumes bit-identically, then reads from the cache', async () => {
    const cache = new Cache(path.join(tmp, 'cache'));
    const start = createModel(MODEL, 5);
    const other = createModel(MODEL, 6);
    const job = { spec: { purpose: 'test' }, trainSet: data, train: CFG, seed: 7, cache, progress: silentSink };
    const startHash = weightsHash(start);

    const stopped = await fineTuneOrLoad({ ...job, from: start, shouldStop: (e) => e === 1 });
    assert.equal(stopped.complete, false);
    stopped.model.dispose();
    // Another model fine-tuned with the same everything does not resume the first one's checkpoint.
    const fromOther = await fineTuneOrLoad({ ...job, from: other });
    assert.equal(fromOther.record.history.length, 2);
    const resumed = await fineTuneOrLoad({ ...job, from: start });
    assert.equal(resumed.complete, true);
    assert.equal(resumed.fromCache, false);
    assert.equal(weightsHash(start), startHash, 'the starting model changed');

    const fresh = await fineTuneOrLoad({ ...job, from: start, cache: new Cache(path.join(tmp, 'fresh')) });
    assert.deepEqual(weightsOf(resumed.model), weightsOf(fresh.model), 'resumed fine-tune differs from an uninterrupted one');
    assert.notDeepEqual(weightsOf(resumed.model), weightsOf(fromOther.model));

    const cached = await fineTuneOrLoad({ ...job, from: start });
    assert.equal(cached.fromCache, true);
    assert.deepEqual(weightsOf(cached.model), weightsOf(fresh.model));
    assert.equal(cached.record.from, startHash);
    for (const m of [start, other, fromOther.model, resumed.model, fresh.model, cached.model]) m.dispose();
  });

  it('float batches keep values that uint8 would round, and train', async () => {
    const n = 100;
    const images = new Float32Array(n * 28 * 28);
    for (let i = 0; i < images.length; i++) images[i] = data.images[i] / 255 + (i % 7 === 0 ? 0.001 : 0);
    const floats: FloatDataset = {
      ...subset(
        data,
        Int32Array.from({ length: n }, (_, i) => i),
      ),
      images,
    };
    const batch = makeBatch(floats, [0, 1]);
    assert.deepEqual(batch, images.subarray(0, 2 * 28 * 28));
    const part = subset(floats, [1]);
    assert.ok(part.images instanceof Float32Array);
    assert.deepEqual(part.images, images.subarray(28 * 28, 2 * 28 * 28));
    const model = createModel(MODEL, 1);
    const r = await train(model, floats, { ...CFG, epochs: 1 }, { seed: 1, progress: silentSink });
    assert.ok(Number.isFinite(r.history[0].loss));
    model.dispose();
  });
});
