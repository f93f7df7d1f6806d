import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/backend';
import { Cache } from '../../src/cache';
import type { Dataset } from '../../src/data/dataset';
import { resolveProfile } from '../../src/train/profiles';
import { defend } from '../../src/experiments/defend';
import { createModel } from '../../src/models/registry';
import { fineTuneOrLoad, type TrainJob, trainingMemoryProblem, trainOrLoad } from '../../src/train/run';
import { requireNative } from '../backend/native-available';
import { useBackend } from '../helpers/backend';

function tinyCifar(n: number): Dataset {
  const images = new Uint8Array(n * 32 * 32 * 3);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 256;
  return {
    name: 'tiny',
    split: 'train',
    images,
    shape: [n, 32, 32, 3],
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
    source: 'test/train/training-memory.test.ts',
  };
}

describe('train/run: what fits the wasm heap', function () {
  // The helper puts back the backend the file found.
  useBackend('wasm');
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-train-memory-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const job = (cache: Cache): TrainJob => {
    const ds = tinyCifar(4);
    const profile = resolveProfile('cpu', 'cifar10', { arch: 'preact-resnet18', epochs: 1, batchSize: 128 });
    return {
      spec: { test: 'training-memory', arch: profile.arch, batchSize: profile.train.batchSize },
      modelConfig: { arch: 'preact-resnet18', inputShape: [32, 32, 3], numClasses: 10 },
      trainSet: ds,
      testSet: { ...ds, split: 'test' },
      profile,
      seed: 0,
      cache,
    };
  };

  it('names the backend, the heap and the batch that fits, for a ResNet above batch 64 only', async () => {
    await initBackend('wasm');
    assert.match(
      trainingMemoryProblem('preact-resnet18', 128) ?? '',
      /preact-resnet18 at batch 128 .* wasm backend, whose tensors live in wasm32's 4 GiB heap; use --batch-size 64/,
    );
    assert.equal(trainingMemoryProblem('preact-resnet18', 64), null);
    assert.equal(trainingMemoryProblem('smallcnn', 512), null);
    await initBackend('cpu');
    assert.equal(trainingMemoryProblem('preact-resnet18', 128), null);
  });

  it('says so for the native backend too, whose oneDNN kernels work on the same heap', async function () {
    requireNative(this);
    await initBackend('native');
    assert.match(trainingMemoryProblem('preact-resnet18', 128) ?? '', /does not fit the native backend, whose tensors live in wasm32's 4 GiB heap/);
  });

  it('refuses to train there before any epoch, leaving no model in the cache', async () => {
    const cache = new Cache(dir);
    await initBackend('wasm');
    await assert.rejects(trainOrLoad(job(cache)), /4 GiB heap; use --batch-size 64/);
    assert.equal(cache.get('models', { kind: 'trained-model', spec: job(cache).spec, seed: 0 }), null);
  });

  it('refuses a fine-tune there too, before any epoch, leaving no model in the cache', async () => {
    const cache = new Cache(dir);
    await initBackend('wasm');
    const { profile, trainSet } = job(cache);
    const from = createModel({ arch: 'preact-resnet18', inputShape: [32, 32, 3], numClasses: 10 }, 'training-memory');
    try {
      await assert.rejects(
        fineTuneOrLoad({ from, spec: { test: 'fine-tune memory' }, trainSet, train: profile.train, seed: 0, cache, label: 'ft' }),
        /^Error: ft: preact-resnet18 at batch 128 .*4 GiB heap; use a fine-tuning batch of at most 64/,
      );
      const models = path.join(cache.root, 'models');
      assert.ok(!fs.existsSync(models) || fs.readdirSync(models).length === 0, 'no model stored');
    } finally {
      from.dispose();
    }
  });

  it('refuses a defense whose batches do not fit before loading any data, naming the option to change', async () => {
    const cache = new Cache(dir);
    await initBackend('wasm');
    const profile = resolveProfile('cpu', 'cifar10', { arch: 'preact-resnet18', batchSize: 64 });
    const cfg = {
      defense: 'pbe',
      cleanData: true,
      profile,
      attack: { name: 'blend', mode: 'all2one' as const, target: 0 },
      seed: 0,
      // no dataset here: an error about the data would mean the check came too late
      dataPath: path.join(dir, 'no-cifar-here'),
    };
    await assert.rejects(defend(cfg, { cache }), /^Error: pbe: preact-resnet18 at batch 128 .*4 GiB heap; use --defense-option batchSize=64/);
    await assert.rejects(defend({ ...cfg, options: { batchSize: 64 } }, { cache }), /no-cifar-here/);
  });
});
