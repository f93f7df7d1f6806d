import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type DynamicAttackConfig, referenceDynamicConfig } from '../../src/attacks/backdoor/dynamic/config';
import { evaluateDynamic } from '../../src/attacks/backdoor/dynamic/evaluate';
import { DynamicGenerator, type GeneratorConfig } from '../../src/attacks/backdoor/dynamic/generator';
import { type DynamicAttackResult, trainDynamicAttack } from '../../src/attacks/backdoor/dynamic/training';
import { dynamicTrigger, loadDynamic, saveDynamic } from '../../src/attacks/backdoor/dynamic/trigger';
import type { LabelRule } from '../../src/attacks/backdoor/trigger';
import { saveTensors } from '../../src/io/checkpoint';
import { makeBatch } from '../../src/data/augment';
import { balancedIndices, type Dataset, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import type { Model } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { useBackend } from '../helpers/backend';

const MNIST_SHAPE: [number, number, number] = [28, 28, 1];
const RULE: LabelRule = { mode: 'all2one', target: 0, numClasses: 10 };

function images(ds: Dataset, from: number, n: number): tf.Tensor4D {
  return tf.tensor4d(
    makeBatch(
      ds,
      Array.from({ length: n }, (_, i) => from + i),
    ),
    [n, ...MNIST_SHAPE],
  );
}

function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** Per-image RMS of a [N, …] tensor's rows. */
function rowRms(t: tf.Tensor): number[] {
  const v = values(t);
  const n = t.shape[0];
  const size = v.length / n;
  return Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let k = 0; k < size; k++) s += v[i * size + k] ** 2;
    return Math.sqrt(s / size);
  });
}

function mnistGenerator(outChannels: number, seed: string, width = 8): DynamicGenerator {
  return new DynamicGenerator({ inputShape: MNIST_SHAPE, outChannels, width, depth: 2 }, new Rng(seed));
}

describe('dynamic backdoor (input-aware, wasm)', function () {
  const { train: fullTrain, test: fullTest } = loadMnist();

  useBackend('wasm');

  describe('generator', () => {
    it('builds the reference encoder-decoder and rejects bad configs, naming the option', () => {
      const g = mnistGenerator(1, 'g', 16);
      const convs = [...g.params.keys()].filter((k) => k.endsWith('.conv.weight'));
      assert.deepEqual(
        convs,
        ['down0', 'down1', 'down2', 'down3', 'middle', 'up0', 'up1', 'up2', 'up3'].map((b) => `${b}.conv.weight`),
      );
      // channels 1→16→16, 16→32→32, 32, up 32→32→16, 16→16→1
      assert.deepEqual(
        convs.map((k) => g.params.get(k)!.shape[3]),
        [16, 16, 32, 32, 32, 32, 16, 16, 1],
      );
      g.dispose();
      const base: GeneratorConfig = { inputShape: MNIST_SHAPE, outChannels: 1, width: 8, depth: 2 };
      assert.throws(
        () => new DynamicGenerator({ ...base, depth: 3 }, new Rng(1)),
        /generator\.depth: 3 halvings need height and width divisible by 8, got 28×28/,
      );
      assert.throws(() => new DynamicGenerator({ ...base, width: 0 }, new Rng(1)), /generator\.width/);
      assert.throws(() => new DynamicGenerator({ ...base, outChannels: 1.5 }, new Rng(1)), /generator\.outChannels/);
    });

    it('maps images to (0, 1) maps of their size, identically from the same seed, without leaking', () => {
      const x = images(fullTest, 0, 4);
      const a = mnistGenerator(3, 'same');
      const b = mnistGenerator(3, 'same');
      const before = tf.memory().numTensors;
      for (const training of [false, true]) {
        const ya = a.forward(x, training);
        const yb = b.forward(x, training);
        assert.deepEqual(ya.shape, [4, 28, 28, 3]);
        assert.ok(
          values(ya).every((v) => v > 0 && v < 1),
          'output outside (0, 1)',
        );
        assert.deepEqual(values(ya), values(yb));
        tf.dispose([ya, yb]);
      }
      a.discardState();
      b.discardState();
      assert.equal(tf.memory().numTensors, before, 'tensors leaked by forward()');
      assert.throws(() => a.forward(tf.zeros([1, 32, 32, 1]) as tf.Tensor4D, false), /expected input \[N, 28, 28, 1\], got \[1,32,32,1\]/);
      tf.dispose([x]);
      a.dispose();
      b.dispose();
    });

    it('passes non-zero gradients to every parameter through the trigger on wasm', () => {
      const pattern = mnistGenerator(1, 'grad-pattern');
      const x = images(fullTest, 0, 6);
      const before = tf.memory().numTensors;
      const vars = [...pattern.params.values()];
      const { value, grads } = tf.variableGrads(() => {
        const mask = tf.fill([6, 28, 28, 1], 0.3) as tf.Tensor4D;
        const triggered = tf.add(x, tf.mul(mask, tf.sub(pattern.forward(x, true), x)));
        // A loss that depends on every output pixel unevenly, so no gradient cancels by symmetry.
        return tf.sum(tf.mul(triggered, tf.reshape(tf.linspace(-1, 1, 6 * 784), [6, 28, 28, 1]))) as tf.Scalar;
      }, vars);
      pattern.discardState();
      for (const [name, v] of pattern.params) {
        const g = values(grads[v.name]);
        assert.ok(g.every(Number.isFinite), `non-finite gradient for ${name}`);
        assert.ok(
          g.some((e) => e !== 0),
          `zero gradient for ${name}`,
        );
      }
      tf.dispose([value, ...Object.values(grads)]);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked by the gradient');
      tf.dispose(x);
      pattern.dispose();
    });
  });

  describe('trigger', () => {
    it('stays in [0, 1], is deterministic, equals applyFrom(x, x), and leaks nothing', () => {
      const trigger = dynamicTrigger({ pattern: mnistGenerator(1, 'tp'), mask: mnistGenerator(1, 'tm') });
      const x = images(fullTest, 0, 8);
      const before = tf.memory().numTensors;
      const a = trigger.apply(x);
      const b = trigger.apply(x);
      const c = trigger.applyFrom(x, x);
      assert.deepEqual(a.shape, x.shape);
      assert.ok(
        values(a).every((v) => v >= 0 && v <= 1),
        'triggered image outside [0, 1]',
      );
      assert.deepEqual(values(a), values(b));
      assert.deepEqual(values(a), values(c));
      tf.dispose([a, b, c]);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked by apply()');
      assert.throws(() => trigger.applyFrom(x, images(fullTest, 0, 2)), /images \[8,28,28,1\] and donors \[2,28,28,1\] differ/);
      tf.dispose(x);
      trigger.dispose();
    });
  });

  describe('training on MNIST (mnist-net, 100 digits per class)', () => {
    const train = subset(fullTrain, balancedIndices(fullTrain, 100));
    const test = subset(fullTest, balancedIndices(fullTest, 50));
    // The reference's MNIST settings, shortened to fit a test: 3 mask epochs instead of 25, 6
    // joint epochs instead of hundreds with cosine decay instead of step decays, batch 32,
    // generators half as wide, no augmentation.
    const config: DynamicAttackConfig = {
      ...referenceDynamicConfig('mnist'),
      maskEpochs: 3,
      epochs: 6,
      batchSize: 32,
      generator: { width: 8, depth: 2 },
      classifierSchedule: { kind: 'cosine' },
      generatorSchedule: { kind: 'cosine' },
      maskSchedule: { kind: 'constant' },
      augment: { cropPadding: 0, flip: false, rotation: 0 },
    };
    let model: Model;
    let result: DynamicAttackResult;
    let leaked: number;
    let seconds: number;
    let tmp: string;

    before(async function () {
      model = createModel({ arch: 'mnist-net', inputShape: MNIST_SHAPE, numClasses: 10 }, 1);
      const start = tf.memory().numTensors;
      const t0 = Date.now();
      result = await trainDynamicAttack({ classifier: model, train, test, rule: RULE, config, seed: 7, progress: silentSink });
      seconds = (Date.now() - t0) / 1000;
      const held = result.trigger.generators;
      leaked = tf.memory().numTensors - start - held.pattern.namedWeights().length - held.mask.namedWeights().length;
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-dynamic-'));
    });

    after(() => {
      result?.trigger.dispose();
      model?.dispose();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('trains without leaking tensors and records both stages', () => {
      assert.equal(leaked, 0, 'tensors leaked by training');
      assert.equal(result.history.mask.length, config.maskEpochs);
      assert.equal(result.history.joint.length, config.epochs);
      console.log(`      trained in ${seconds.toFixed(1)} s`);
    });

    it('pre-trains sparse masks: density falls to near the target, masks not empty', () => {
      const densities = result.history.mask.map((r) => r.density);
      const x = images(fullTest, 0, 100);
      const { pattern, mask } = result.trigger.components(x);
      const density = tf.mean(mask).dataSync()[0];
      console.log(
        `      mask density per epoch ${densities.map((d) => d.toFixed(3)).join(' → ')}; on test images ${density.toFixed(4)} (target ${config.maskDensity})`,
      );
      assert.ok(densities[densities.length - 1] < densities[0], 'the density penalty did not lower the density');
      assert.ok(density > 0.002 && density <= 1.5 * config.maskDensity, `test-image mask density ${density}`);
      tf.dispose([x, pattern, mask]);
    });

    /** Mean relative perturbation difference and mask IoU between the triggers of image i and i + offset. */
    function pairStats(offset: number): { ratio: number; iou: number } {
      // Test images are interleaved by class: an offset of 10 pairs two writings of one digit,
      // an offset of 11 two different digits.
      const a = images(fullTest, 0, 10);
      const b = images(fullTest, offset, 10);
      const stats = tf.tidy(() => {
        const da = tf.sub(result.trigger.apply(a), a);
        const db = tf.sub(result.trigger.apply(b), b);
        const diff = rowRms(tf.sub(da, db));
        const sizeA = rowRms(da);
        const sizeB = rowRms(db);
        const relative = diff.map((d, i) => d / Math.max(sizeA[i], sizeB[i]));
        const p = values(tf.greater(result.trigger.components(a).mask, 0.5));
        const q = values(tf.greater(result.trigger.components(b).mask, 0.5));
        let inter = 0;
        let union = 0;
        for (let k = 0; k < p.length; k++) {
          inter += p[k] & q[k];
          union += p[k] | q[k];
        }
        return { ratio: relative.reduce((s, r) => s + r, 0) / relative.length, iou: inter / union };
      });
      tf.dispose([a, b]);
      return stats;
    }

    it('gives different images substantially different triggers', () => {
      const other = pairStats(11);
      const same = pairStats(10);
      console.log(
        `      ‖δ(x) − δ(x')‖ / max(‖δ(x)‖, ‖δ(x')‖), mask IoU: different digits ${other.ratio.toFixed(2)}, ${other.iou.toFixed(2)}; same digit ${same.ratio.toFixed(2)}, ${same.iou.toFixed(2)}`,
      );
      assert.ok(other.ratio > 0.7, `perturbations of different digits too similar (relative difference ${other.ratio})`);
      assert.ok(other.iou < 0.5, `masks of different digits overlap too much (IoU ${other.iou})`);
      assert.ok(same.ratio > 0.5, `perturbations of two writings of a digit too similar (relative difference ${same.ratio})`);
    });

    it('backdoors the classifier partly in this short run, with a trigger that transfers less to other images', async () => {
      const ev = await evaluateDynamic(model, result.trigger, test, RULE, 3);
      const last = result.history.joint[result.history.joint.length - 1];
      assert.equal(last.test!.acc, ev.acc);
      assert.equal(last.test!.asr, ev.asr);
      const clean = tf.tidy(() => {
        const x = images(test, 0, test.shape[0]);
        const pred = values(tf.argMax(model.predict(x), 1));
        let hits = 0;
        let n = 0;
        test.labels.forEach((y, i) => {
          if (y === RULE.target) return;
          n++;
          if (pred[i] === RULE.target) hits++;
        });
        return hits / n;
      });
      console.log(
        `      ACC ${ev.acc.toFixed(3)}  ASR ${ev.asr.toFixed(3)} (clean images predicted as the target: ${clean.toFixed(3)})  cross-trigger: target rate ${ev.crossAsr.toFixed(3)}, true-label rate ${ev.crossAcc.toFixed(3)}`,
      );
      console.log(
        `      per epoch (test ACC/ASR/cross target rate): ${result.history.joint.map((r) => `${r.test!.acc.toFixed(2)}/${r.test!.asr.toFixed(2)}/${r.test!.crossAsr.toFixed(2)}`).join('  ')}`,
      );
      assert.ok(ev.acc > 0.85, `clean accuracy ${ev.acc} (chance 0.1)`);
      assert.ok(ev.asr >= 0.5 && ev.asr > clean + 0.4, `ASR ${ev.asr} vs ${clean} on clean images`);
      assert.ok(ev.crossAsr < ev.asr - 0.1, `cross-trigger target rate ${ev.crossAsr} vs own-trigger ASR ${ev.asr}`);
    });

    it('saves and loads the generators to the same triggered images', async () => {
      const dir = path.join(tmp, 'trigger');
      await saveDynamic(dir, result.trigger, { note: 'test' });
      const loaded = await loadDynamic(dir);
      const x = images(fullTest, 0, 16);
      const a = result.trigger.apply(x);
      const b = loaded.apply(x);
      assert.deepEqual(values(b), values(a));
      tf.dispose([x, a, b]);
      loaded.dispose();
      const other = path.join(tmp, 'other');
      await saveTensors(other, model.namedWeights());
      await assert.rejects(loadDynamic(other), /loadDynamic .*other: not a dynamic-trigger checkpoint/);
    });

    it('rejects configurations that cannot work, naming the option', async () => {
      const run = (patch: Partial<DynamicAttackConfig>) =>
        trainDynamicAttack({ classifier: model, train, rule: RULE, config: { ...config, ...patch }, seed: 1, progress: silentSink });
      await assert.rejects(run({ poisonRate: 0.02 }), /dynamic\.poisonRate: 0\.02 × batchSize 32 leaves no triggered image/);
      await assert.rejects(run({ poisonRate: 0.6, crossRate: 0.5 }), /dynamic\.poisonRate \+ dynamic\.crossRate/);
      await assert.rejects(run({ batchSize: 5000 }), /dynamic\.batchSize: 5000 exceeds the 1000 training images/);
      await assert.rejects(run({ generator: { width: 8, depth: 3 } }), /generator\.depth/);
    });
  });
});
