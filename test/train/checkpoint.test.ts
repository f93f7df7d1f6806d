import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadTensors } from '../../src/io/checkpoint';
import type { Model, ModelConfig } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { RunCheckpoint } from '../../src/train/checkpoint';
import { createOptimizer, type Optimizer } from '../../src/train/optimizer';
import { useBackend } from '../helpers/backend';
import { weightsOf } from '../helpers/weights';

const MNIST_NET: ModelConfig = { arch: 'mnist-net', inputShape: [28, 28, 1], numClasses: 10 };

/** Captures what `fn` writes to stderr. */
async function stderrOf<T>(fn: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    return { value: await fn(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe('RunCheckpoint (the per-epoch checkpoint of the trainer and the dynamic attack)', () => {
  useBackend('wasm');
  let tmp: string;
  let model: Model;
  let optimizer: Optimizer;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-run-checkpoint-'));
    model = createModel(MNIST_NET, 1);
    optimizer = createOptimizer({ kind: 'adam', lr: 0.01, weightDecay: 0 });
    // One step, so the optimiser has slots and a step count worth restoring.
    const grads = Object.fromEntries([...model.params].map(([name, v]) => [name, tf.onesLike(v)]));
    optimizer.step(model.params, grads, 0.01);
    tf.dispose(Object.values(grads));
  });
  afterEach(() => {
    model.dispose();
    optimizer.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('stores each part under its name with the progress, and restores every tensor into a fresh state', async () => {
    const dir = path.join(tmp, 'run');
    const tensors = tf.memory().numTensors;
    await new RunCheckpoint(dir, 'hash-a', { model, optimizer }, 'test').save({ epochsDone: 2 });
    const { tensors: saved, metadata } = await loadTensors(dir);
    // The trainer's layout before the checkpoint was shared: checkpoints written then still resume.
    assert.ok(Object.keys(saved).every((n) => n.startsWith('model/') || n.startsWith('optimizer/')));
    assert.equal(Object.keys(saved).length, model.namedWeights().length + optimizer.slots().length);
    assert.deepEqual(metadata, { configHash: 'hash-a', epochsDone: 2 });
    tf.dispose(Object.values(saved));

    const fresh = createModel(MNIST_NET, 2);
    const freshOptimizer = createOptimizer(optimizer.config);
    const { value, stderr } = await stderrOf(() =>
      new RunCheckpoint<{ epochsDone: number }>(dir, 'hash-a', { model: fresh, optimizer: freshOptimizer }, 'test').resume(),
    );
    assert.deepEqual(value, { epochsDone: 2 });
    assert.equal(stderr, '');
    assert.deepEqual(weightsOf(fresh), weightsOf(model));
    const slots = (o: Optimizer) => Object.fromEntries(o.slots().map(({ name, tensor }) => [name, tensor.dataSync()]));
    assert.deepEqual(slots(freshOptimizer), slots(optimizer));
    fresh.dispose();
    freshOptimizer.dispose();
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked by save or resume');
  });

  it("leaves the state alone for a missing folder, another run's checkpoint and a half-written one, saying why", async () => {
    const dir = path.join(tmp, 'run');
    const before = weightsOf(model);
    const other = (hash: string) => new RunCheckpoint(dir, hash, { model, optimizer }, 'test run');
    assert.equal(await other('hash-a').resume(), null);
    await other('hash-a').save({ epochsDone: 1 });
    const foreign = await stderrOf(() => other('hash-b').resume());
    assert.equal(foreign.value, null);
    assert.match(foreign.stderr, /^test run: the checkpoint in .*run belongs to another configuration; starting afresh\n$/);
    // Weights are written before model.json, which holds their checksum: a folder without it was interrupted mid-write.
    fs.rmSync(path.join(dir, 'model.json'));
    const half = await stderrOf(() => other('hash-a').resume());
    assert.equal(half.value, null);
    assert.match(half.stderr, /^test run: ignoring the checkpoint in .*run: checkpoint .*model\.json is missing\n$/);
    assert.deepEqual(weightsOf(model), before);
  });

  it('refuses a checkpoint of its own run whose tensors do not fit, and parts whose names would mix', async () => {
    const dir = path.join(tmp, 'run');
    await new RunCheckpoint(dir, 'hash-a', { model, optimizer }, 'test').save({ epochsDone: 1 });
    const other = createModel({ ...MNIST_NET, arch: 'smallcnn', inputShape: [32, 32, 3] }, 1);
    try {
      await assert.rejects(
        new RunCheckpoint(dir, 'hash-a', { model: other, optimizer }, 'test').resume(),
        /^Error: test: cannot resume from the checkpoint in .*run \(delete it to start afresh\): .*missing tensor/,
      );
    } finally {
      other.dispose();
    }
    assert.throws(
      () => new RunCheckpoint(dir, 'h', { optimizer, 'optimizer/mask': optimizer }, 'test'),
      /test: checkpoint parts 'optimizer' and 'optimizer\/mask' would share tensor names/,
    );
  });
});
