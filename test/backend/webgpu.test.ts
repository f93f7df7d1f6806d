import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { pgd, PGD_DEFAULT } from '../../src/attacks/adversarial/pgd';
import { initBackend, runtimeInfo } from '../../src/backend';
import { balancedIndices, reshapeImages, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { batchNormTrain } from '../../src/kernels/batch-norm';
import type { ModelArch, ModelConfig } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { resolveProfile } from '../../src/train/profiles';
import { accuracy, train } from '../../src/train/trainer';
import { useBackend } from '../helpers/backend';
import { requireWebGPU } from '../helpers/webgpu';
import { relError, trainingLoss } from '../models/helpers';
import { CONV_CASES } from './conv-cases';
import { nativeMissing } from './native-available';

/*
 * The webgpu backend against the cpu reference. On SwiftShader every new kernel shape compiles a
 * shader on the CPU and the kernels run about 0.03 GFLOP/s (docs/webgpu.md), so the shapes are the
 * smallest that take each code path, and the models see 8×8 or 14×14 images.
 */

type Side = 'cpu' | 'webgpu';

/** Runs `make` on one backend and reads its tensors back asynchronously (webgpu has no dataSync in Node). */
async function on(name: Side, make: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend(name);
  const ts = tf.tidy(make);
  const out = await Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(ts);
  return out;
}

async function assertMatches(make: () => tf.Tensor[], tol: number, names: string[]): Promise<void> {
  const cpu = await on('cpu', make);
  const gpu = await on('webgpu', make);
  cpu.forEach((c, i) => {
    const e = relError(gpu[i], c);
    assert.ok(e < tol, `${names[i] ?? `output ${i}`}: relative error ${e} (tolerance ${tol})`);
  });
}

/** An op's output and the gradient of Σ out·r with respect to each input, r a fixed random cotangent. */
function withGradients(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[], seed: string): () => tf.Tensor[] {
  return () => {
    const xs = inputs();
    const y = f(...xs);
    const r = tf.tensor(new Rng(seed).normalArray(y.size), y.shape);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), r)))(xs);
    return [y, ...grads];
  };
}

function normal(seed: string, shape: number[], mean = 0, std = 1): tf.Tensor {
  return tf.tensor(
    new Rng(seed).normalArray(
      shape.reduce((a, b) => a * b, 1),
      mean,
      std,
    ),
    shape,
  );
}

interface OpCase {
  name: string;
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  shapes: number[][];
  /** inputs kept positive (square roots) */
  positive?: boolean;
}

const OPS: OpCase[] = [
  { name: 'relu', f: (x) => tf.relu(x), shapes: [[2, 5, 5, 3]] },
  { name: 'maxPool 2×2 stride 2', f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 0), shapes: [[2, 6, 6, 3]] },
  { name: 'maxPool 3×3 stride 2 pad 1', f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 1), shapes: [[2, 7, 7, 2]] },
  { name: 'global average pool', f: (x) => tf.mean(x, [1, 2]), shapes: [[2, 4, 4, 5]] },
  { name: 'add with a broadcast bias', f: (x, b) => tf.add(x, b), shapes: [[3, 4], [4]] },
  { name: 'sub, mul, div', f: (a, b, c) => tf.div(tf.mul(tf.sub(a, b), c), tf.add(tf.square(c), 1)), shapes: [[3, 4], [3, 4], [4]] },
  { name: 'sqrt and rsqrt', f: (x) => tf.add(tf.sqrt(x), tf.rsqrt(x)), shapes: [[3, 5]], positive: true },
  {
    name: 'sum with kept dims, minimum, clipByValue',
    f: (x) => tf.clipByValue(tf.minimum(tf.sum(tf.square(x), [1, 2, 3], true), 4), 0.5, 3),
    shapes: [[3, 2, 2, 2]],
  },
  {
    name: 'softmax cross-entropy of one-hot labels',
    f: (logits) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 3, 1], 'int32'), 4), logits),
    shapes: [[3, 4]],
  },
];

const SMALL = {
  smallcnn: { arch: 'smallcnn', inputShape: [8, 8, 3], numClasses: 10 },
  // MNIST digits resized to 14×14: a quarter of the work of 28×28, and still learnable in 3 epochs.
  'mnist-net': { arch: 'mnist-net', inputShape: [14, 14, 1], numClasses: 10 },
} satisfies Partial<Record<ModelArch, ModelConfig>>;

describe('webgpu backend (Dawn) against cpu', function () {
  before(async function () {
    await requireWebGPU(this);
  });
  useBackend('webgpu');

  it('names its adapter, with the limits the device was asked for', () => {
    const a = runtimeInfo().adapter;
    assert.ok(a, 'no adapter in the runtime info');
    assert.equal(typeof a.vendor, 'string');
    assert.equal(typeof a.architecture, 'string');
    assert.ok(a.limits.maxStorageBufferBindingSize > 0 && a.limits.maxComputeInvocationsPerWorkgroup > 0, JSON.stringify(a.limits));
  });

  for (const cc of CONV_CASES) {
    it(`conv2d and its gradients: x ${cc.x.join('×')}, w ${cc.w.join('×')}, stride ${cc.stride}, ${cc.pad}`, () =>
      assertMatches(
        withGradients(
          (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, cc.stride, cc.pad),
          () => [normal('x', cc.x), normal('w', cc.w)],
          'conv',
        ),
        1e-4,
        ['y', 'dx', 'dW'],
      ));
  }

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`matMul (transposeA=${ta}, transposeB=${tb}) and its gradients`, () =>
      assertMatches(
        withGradients(
          (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb),
          () => [normal('a', ta ? [5, 6] : [6, 5]), normal('b', tb ? [4, 5] : [5, 4])],
          'mm',
        ),
        1e-4,
        ['y', 'da', 'db'],
      ));
  }

  for (const op of OPS) {
    it(`${op.name} and its gradients`, () =>
      assertMatches(
        withGradients(
          op.f,
          () => op.shapes.map((s, i) => (op.positive ? tf.add(tf.abs(normal(`${op.name}-${i}`, s)), 0.5) : normal(`${op.name}-${i}`, s))),
          op.name,
        ),
        1e-4,
        ['y', ...op.shapes.map((_, i) => `d input ${i}`)],
      ));
  }

  it('training batch norm (the project kernel) and its gradients', () =>
    assertMatches(
      withGradients(
        (x, g, b) => batchNormTrain(x, g as tf.Tensor1D, b as tf.Tensor1D).y,
        () => [normal('bn-x', [4, 3, 3, 6], 1, 2), normal('bn-g', [6], 1, 0.2), normal('bn-b', [6])],
        'bn',
      ),
      1e-4,
      ['y', 'dx', 'dγ', 'dβ'],
    ));

  // The cpu profile's network, whole; the ResNets' layers are the same ops, tested one by one above
  // (a whole PreAct-ResNet18 against cpu ran past 10 minutes on SwiftShader here).
  for (const arch of ['smallcnn'] as const) {
    it(`${arch}: eval and training logits, and every parameter's gradient of the training loss`, async function () {
      this.timeout(600_000);
      const cfg = SMALL[arch];
      const keys = [...createModelOn(cfg).params.keys()];
      const make = () => {
        const model = createModelOn(cfg);
        const x = tf.tensor4d(new Rng(`${arch}-x`).uniformArray(2 * cfg.inputShape.reduce((a, b) => a * b)), [2, ...cfg.inputShape]);
        const y = tf.tensor1d([3, 7], 'int32');
        const vars = keys.map((k) => model.params.get(k)!);
        const { grads } = tf.variableGrads(() => trainingLoss(model, x, y), vars);
        const out = [model.predict(x), model.forward(x, { training: true }).logits, ...vars.map((v) => grads[v.name])];
        model.dispose();
        return out;
      };
      await assertMatches(make, 1e-3, ['eval logits', 'training logits', ...keys]);
    });
  }

  it('PGD-7 gives the cpu adversarial images, inside the ε-ball and [0, 1]', async function () {
    this.timeout(600_000);
    const cfg = SMALL.smallcnn;
    const shape: [number, number, number, number] = [4, ...cfg.inputShape];
    const xs = new Rng('pgd-x').uniformArray(shape.reduce((a, b) => a * b));
    const run = () => {
      const model = createModelOn(cfg);
      const x = tf.tensor4d(xs, shape);
      const adv = pgd(model, x, tf.tensor1d([0, 1, 2, 3], 'int32'), PGD_DEFAULT);
      model.dispose();
      return [adv];
    };
    const [cpu] = await on('cpu', run);
    const [gpu] = await on('webgpu', run);
    let same = 0;
    for (let i = 0; i < gpu.length; i++) {
      assert.ok(gpu[i] >= 0 && gpu[i] <= 1, `pixel ${i} = ${gpu[i]} leaves [0, 1]`);
      assert.ok(Math.abs(gpu[i] - xs[i]) <= PGD_DEFAULT.eps + 1e-6, `pixel ${i} moved ${Math.abs(gpu[i] - xs[i])} > ε`);
      if (Math.abs(gpu[i] - cpu[i]) < 1e-5) same++;
    }
    // A gradient component within rounding of zero may take the other sign on the other backend.
    assert.ok(same / gpu.length > 0.99, `${same}/${gpu.length} pixels equal to cpu's`);
  });

  it('the training-mode input gradient of a batch-norm net passes a finite-difference check on webgpu', async function () {
    this.timeout(600_000);
    await initBackend('webgpu');
    const cfg = SMALL.smallcnn;
    const model = createModelOn(cfg);
    const shape: [number, number, number, number] = [3, ...cfg.inputShape];
    const xs = new Rng('fd-x').uniformArray(shape.reduce((a, b) => a * b));
    const y = tf.tensor1d([1, 4, 9], 'int32');
    const gradT = tf.tidy(() => tf.grad((x: tf.Tensor) => trainingLoss(model, x as tf.Tensor4D, y))(tf.tensor4d(xs, shape)));
    const g = Float32Array.from(await gradT.data());
    gradT.dispose();
    const lossAt = async (dir: Float32Array, step: number) => {
      const l = tf.tidy(() =>
        trainingLoss(
          model,
          tf.tensor4d(
            Float32Array.from(xs, (v, i) => v + step * dir[i]),
            shape,
          ),
          y,
        ),
      );
      const v = (await l.data())[0];
      l.dispose();
      return v;
    };
    for (const [name, dir] of [
      ['along the gradient', Float32Array.from(g)],
      ['a random direction', new Rng('fd-dir').normalArray(xs.length)],
    ] as const) {
      const norm = Math.hypot(...dir);
      const unit = dir.map((v) => v / norm);
      const numeric = ((await lossAt(unit, 1e-2)) - (await lossAt(unit, -1e-2))) / 2e-2;
      const analytic = g.reduce((s, v, i) => s + v * unit[i], 0);
      assert.ok(Math.abs(numeric - analytic) <= 0.05 * Math.abs(analytic), `${name}: numeric ${numeric} vs analytic ${analytic}`);
    }
    y.dispose();
    model.dispose();
  });

  it('a smoke model trained on webgpu reaches the accuracy of the same training on native (wasm without the addon), leaking no tensors', async function () {
    this.timeout(600_000);
    const { train: fullTrain, test: fullTest } = loadMnist();
    const [size] = SMALL['mnist-net'].inputShape;
    const data = reshapeImages(subset(fullTrain, balancedIndices(fullTrain, 30)), size, 1);
    const evalSet = reshapeImages(subset(fullTest, balancedIndices(fullTest, 20)), size, 1);
    const cfg = resolveProfile('smoke', 'mnist').train;
    const trainOn = async (name: 'webgpu' | 'native' | 'wasm') => {
      await initBackend(name);
      const model = createModel(SMALL['mnist-net'], 3);
      const before = tf.memory().numTensors;
      const r = await train(model, data, cfg, { seed: 11, progress: silentSink });
      assert.equal(tf.memory().numTensors, before, `tensors leaked by training on ${name}`);
      const acc = await accuracy(model, evalSet);
      model.dispose();
      return { acc, loss: r.history.map((h) => h.loss) };
    };
    const reference = await trainOn(nativeMissing() === null ? 'native' : 'wasm');
    const gpu = await trainOn('webgpu');
    console.log(`      mnist-net, 300 MNIST digits at 14×14 × 3 epochs: accuracy on 200 held-out ${gpu.acc} on webgpu, ${reference.acc} on the reference`);
    assert.ok(gpu.loss[2] < 0.7 * gpu.loss[0], `webgpu loss ${gpu.loss.join(' → ')}`);
    // Same seed and data: the runs differ only by float rounding, which SGD amplifies a little.
    assert.ok(Math.abs(gpu.acc - reference.acc) <= 0.05, `accuracy ${gpu.acc} on webgpu against ${reference.acc}`);
    assert.ok(gpu.acc > 0.5, `accuracy ${gpu.acc} on webgpu (chance 0.1)`);
  });
});

/** The same seed gives the same initial weights on every backend. */
function createModelOn(cfg: ModelConfig) {
  return createModel(cfg, `webgpu-${cfg.arch}`);
}
