import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type DynamicAttackConfig, referenceDynamicConfig } from '../../src/attacks/backdoor/dynamic/config';
import { type DynamicAttackOptions, type DynamicAttackResult, trainDynamicAttack } from '../../src/attacks/backdoor/dynamic/training';
import type { LabelRule } from '../../src/attacks/backdoor/trigger';
import { useBackend } from '../helpers/backend';
import { makeBatch } from '../../src/data/augment';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { createModel } from '../../src/models/registry';

const MODEL = { arch: 'mnist-net' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10 };
const RULE: LabelRule = { mode: 'all2one', target: 0, numClasses: 10 };

/** Everything a run leaves behind, as plain numbers; its tensors are disposed. */
interface Outcome {
  result: Omit<DynamicAttackResult, 'trigger'>;
  weights: Record<string, Float32Array | Int32Array | Uint8Array>;
  triggered: Float32Array;
  /** the progress bar's total, null without progress updates */
  total: number | null;
  /** progress updates, one per batch trained */
  ticks: number;
  stderr: string;
}

describe('dynamic backdoor: checkpoints and exact resumption (mnist-net, 20 digits per class, wasm)', function () {
  const { train: fullTrain, test: fullTest } = loadMnist();
  const train = subset(fullTrain, balancedIndices(fullTrain, 20));
  const test = subset(fullTest, balancedIndices(fullTest, 5));
  // Both optimiser kinds (SGD with momentum for f, Adam for G and M), cosine schedules and random
  // crops: every slot, learning rate and random stream has to carry over.
  const config: DynamicAttackConfig = {
    ...referenceDynamicConfig('mnist'),
    maskEpochs: 2,
    epochs: 2,
    batchSize: 32,
    generator: { width: 4, depth: 2 },
    classifierSchedule: { kind: 'cosine' },
    generatorSchedule: { kind: 'cosine' },
    maskSchedule: { kind: 'cosine' },
  };
  const batches = Math.floor(train.shape[0] / config.batchSize);
  const probe = Array.from({ length: 16 }, (_, i) => i);
  let tmp: string;
  let reference: Outcome;

  useBackend('wasm');

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-dynamic-resume-'));
    // The reference run writes no checkpoint at all.
    reference = await run({});
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** One call of trainDynamicAttack with a fresh classifier, initialised from `initSeed`; checks that it leaks no tensor. */
  async function run(patch: Partial<DynamicAttackOptions>, initSeed = 1): Promise<Outcome> {
    const before = tf.memory().numTensors;
    const classifier = createModel(MODEL, initSeed);
    let total: number | null = null;
    let ticks = 0;
    let stderr = '';
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      stderr += chunk;
      return true;
    }) as typeof process.stderr.write;
    let out: DynamicAttackResult;
    try {
      out = await trainDynamicAttack({
        classifier,
        train,
        test,
        rule: RULE,
        config,
        seed: 5,
        progress: (u) => {
          total = u.total;
          ticks++;
        },
        ...patch,
      });
    } catch (e) {
      classifier.dispose();
      assert.equal(tf.memory().numTensors, before, 'tensors leaked by a failed trainDynamicAttack');
      throw e;
    } finally {
      process.stderr.write = write;
    }
    const { trigger, ...result } = out;
    const { pattern, mask } = trigger.generators;
    const weights = Object.fromEntries([
      ...classifier.namedWeights().map(({ name, tensor }) => [`classifier/${name}`, tensor.dataSync()]),
      ...pattern.namedWeights().map(({ name, tensor }) => [`pattern/${name}`, tensor.dataSync()]),
      ...mask.namedWeights().map(({ name, tensor }) => [`mask/${name}`, tensor.dataSync()]),
    ] as [string, Float32Array][]);
    const triggered = tf.tidy(() => trigger.apply(tf.tensor4d(makeBatch(test, probe), [probe.length, 28, 28, 1])).dataSync() as Float32Array);
    trigger.dispose();
    classifier.dispose();
    assert.equal(tf.memory().numTensors, before, 'tensors leaked by trainDynamicAttack');
    return { result, weights, triggered, total, ticks, stderr };
  }

  /** Histories without the wall-clock times, which differ between runs. */
  function timeless(h: DynamicAttackResult['history']): unknown {
    const strip = <T extends { seconds: number }>(r: T) => ({ ...r, seconds: 0 });
    return { mask: h.mask.map(strip), joint: h.joint.map(strip) };
  }

  function assertSameAsReference(got: Outcome): void {
    assert.deepEqual(Object.keys(got.weights), Object.keys(reference.weights));
    for (const [name, values] of Object.entries(reference.weights)) assert.deepEqual(got.weights[name], values, `${name} differs from the uninterrupted run`);
    assert.deepEqual(got.triggered, reference.triggered, 'triggered images differ from the uninterrupted run');
    assert.deepEqual(timeless(got.result.history), timeless(reference.result.history));
  }

  it('stopped after every epoch, and killed within the last, resumed each time with a fresh classifier, ends bit-identical to an uninterrupted run', async () => {
    assert.equal(reference.result.complete, true);
    assert.equal(reference.total, 4 * batches);
    const dir = path.join(tmp, 'run');
    const stops: [string, number][] = [];
    const steps: { from: { mask: number; joint: number }; total: number | null; ticks: number; complete: boolean }[] = [];
    let last: Outcome | null = null;
    for (let i = 0; i < 4; i++) {
      if (i === 3) {
        // Killed half-way through the last joint epoch, as a process would be: its checkpoint stays that of joint epoch 1.
        let ticks = 0;
        const kill = () => {
          if (++ticks === Math.ceil(batches / 2)) throw new Error('killed');
        };
        await assert.rejects(run({ checkpointDir: dir, progress: kill }, 99), /killed/);
      }
      // Only the first call starts from its own classifier, like the reference's; later ones must load theirs.
      last = await run({ checkpointDir: dir, shouldStop: (stage, n) => (stops.push([stage, n]), true) }, i === 0 ? 1 : 100 + i);
      assert.equal(last.stderr, '');
      steps.push({ from: last.result.resumedFrom, total: last.total, ticks: last.ticks, complete: last.result.complete });
    }
    // The bar counts only the batches left; shouldStop is asked while work remains, never after the last epoch.
    assert.deepEqual(steps, [
      { from: { mask: 0, joint: 0 }, total: 4 * batches, ticks: batches, complete: false },
      { from: { mask: 1, joint: 0 }, total: 3 * batches, ticks: batches, complete: false },
      { from: { mask: 2, joint: 0 }, total: 2 * batches, ticks: batches, complete: false },
      { from: { mask: 2, joint: 1 }, total: 1 * batches, ticks: batches, complete: true },
    ]);
    assert.deepEqual(stops, [
      ['mask', 1],
      ['mask', 2],
      ['joint', 1],
    ]);
    assertSameAsReference(last!);
    assert.ok(
      last!.result.history.joint.every((r) => r.test !== null),
      'test evaluations missing from the resumed history',
    );

    // A finished checkpoint: nothing left to train, the trained state is returned.
    const done = await run({ checkpointDir: dir }, 200);
    assert.deepEqual(done.result.resumedFrom, { mask: 2, joint: 2 });
    assert.equal(done.ticks, 0);
    assert.equal(done.result.complete, true);
    assertSameAsReference(done);
  });

  it('ignores, with a note on stderr, a checkpoint of another configuration and a corrupt one', async () => {
    const dir = path.join(tmp, 'ignored');
    const first = await run({ checkpointDir: dir, shouldStop: () => true });
    assert.equal(first.result.history.mask.length, 1);

    // Another seed: trains afresh (stopped after one epoch to stay cheap) and overwrites the checkpoint.
    const other = await run({ checkpointDir: dir, seed: 6, shouldStop: () => true });
    assert.match(other.stderr, /dynamic attack: the checkpoint in .*ignored belongs to another configuration; starting afresh/);
    assert.deepEqual(other.result.resumedFrom, { mask: 0, joint: 0 });

    const bin = path.join(dir, 'weights.bin');
    const bytes = fs.readFileSync(bin);
    bytes[bytes.length >> 1] ^= 0xff;
    fs.writeFileSync(bin, bytes);
    const corrupt = await run({ checkpointDir: dir, seed: 6, shouldStop: () => true });
    assert.match(corrupt.stderr, /dynamic attack: ignoring the checkpoint in .*ignored: .*checksum does not match/);
    assert.deepEqual(corrupt.result.resumedFrom, { mask: 0, joint: 0 });
    // It started over, so its first epoch repeats that of the run whose checkpoint was damaged.
    assert.deepEqual(timeless(corrupt.result.history), timeless(other.result.history));
  });
});
