import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers/backend';
import { Cache } from '../../src/cache';
import { NO_AUGMENT } from '../../src/data/augment';
import { balancedIndices, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import { cleanExtraSet, selectCleanExtra } from '../../src/defenses/clean-set';
import type { DefenseContext } from '../../src/defenses/defense';
import { defenseDefinition, defenseNames, optionProvenance, registerDefense, resolveDefenseOptions, runDefense } from '../../src/defenses/registry';
import { createModel } from '../../src/models/registry';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';

const MODEL = { arch: 'mnist-net' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10 };

registerDefense<{ epochs: number; shares: readonly number[]; vandal: boolean }, null>('test-identity', {
  description: 'returns a clone; or, with vandal, edits the infected model',
  data: 'either',
  gradientBatches: [],
  defaults: { epochs: 10, shares: [0.2, 0.5], vandal: false },
  provenance: { epochs: 'test', shares: 'test', vandal: 'test' },
  schedules: { smoke: { options: { epochs: 1 }, provenance: 'seconds' } },
  validate(o) {
    if (!(o.epochs >= 1)) throw new Error(`test-identity.epochs: expected ≥ 1, got ${o.epochs}`);
  },
  async run(ctx) {
    if (ctx.options.vandal) tf.tidy(() => ctx.model.params.get('fc2.bias')!.assign(tf.zeros([10])));
    return { model: ctx.model.clone(), log: [{ stage: 'all', message: 'nothing to do' }], intermediate: null };
  },
});

describe('defense registry and the shared clean extra set', function () {
  const { train: fullTrain, test: fullTest } = loadMnist();
  const train = subset(fullTrain, balancedIndices(fullTrain, 10));
  useBackend('wasm');

  it('resolves defaults, then the profile, then given options, checking names, types and ranges', () => {
    assert.deepEqual(resolveDefenseOptions({ name: 'test-identity' }), { epochs: 10, shares: [0.2, 0.5], vandal: false });
    assert.equal(resolveDefenseOptions({ name: 'test-identity', profile: 'smoke' }).epochs, 1);
    assert.equal(resolveDefenseOptions({ name: 'test-identity', profile: 'smoke', options: { epochs: 3 } }).epochs, 3);
    assert.throws(
      () => resolveDefenseOptions({ name: 'test-identity', options: { epoch: 3 } }),
      /unknown option 'epoch'; valid options: epochs, shares, vandal/,
    );
    assert.throws(
      () => resolveDefenseOptions({ name: 'test-identity', options: { shares: 0.2 } }),
      /test-identity\.shares: expected a list of numbers, got 0\.2/,
    );
    assert.throws(() => resolveDefenseOptions({ name: 'test-identity', options: { epochs: '3' } }), /test-identity\.epochs: expected a number/);
    assert.throws(() => resolveDefenseOptions({ name: 'test-identity', options: { epochs: 0 } }), /expected ≥ 1, got 0/);
    assert.throws(() => resolveDefenseOptions({ name: 'nope' }), /unknown defense 'nope'/);
    const prov = optionProvenance({ name: 'test-identity', profile: 'smoke', options: { vandal: true } });
    assert.deepEqual(prov, { epochs: 'profile smoke: seconds', shares: 'test', vandal: 'given' });
  });

  it('knows the gradient batches of every shipped defense, and refuses one that names no number option', () => {
    const batches = Object.fromEntries(['pbe', 'ft', 'fp', 'nad', 'nc', 'anp'].map((name) => [name, defenseDefinition(name).gradientBatches]));
    assert.deepEqual(batches, {
      pbe: ['batchSize'],
      ft: ['batchSize'],
      fp: ['batchSize'],
      nad: ['batchSize'],
      nc: ['reverseBatchSize', 'batchSize'],
      anp: ['batchSize'],
    });
    for (const name of defenseNames()) {
      const def = defenseDefinition(name);
      const batchOptions = Object.keys(def.defaults).filter((k) => /(^b|B)atchSize$/.test(k));
      assert.deepEqual([...def.gradientBatches].sort(), batchOptions.sort(), `${name}: every batch option is declared`);
    }
    assert.throws(
      () =>
        registerDefense<{ vandal: boolean }, null>('test-bad-batches', {
          description: 'declares a flag as its gradient batch',
          data: 'clean',
          gradientBatches: ['vandal'],
          defaults: { vandal: false },
          provenance: { vandal: 'test' },
          async run(ctx) {
            return { model: ctx.model.clone(), log: [], intermediate: null };
          },
        }),
      /register defense 'test-bad-batches': gradient batch 'vandal' is not a number option/,
    );
  });

  it('runDefense checks the data contract and that the infected model is left untouched', async () => {
    const model = createModel(MODEL, 1);
    const ctx: Omit<DefenseContext, 'options' | 'pgd'> = {
      model,
      data: { train },
      augment: NO_AUGMENT,
      seed: 0,
      progress: silentSink,
      cache: new Cache(path.join(os.tmpdir(), 'pbe-unused')),
      measure: async () => {},
    };
    const r = await runDefense({ name: 'test-identity' }, ctx);
    r.model.dispose();
    await assert.rejects(
      runDefense({ name: 'test-identity' }, { ...ctx, data: {} }),
      /give either a clean extra set \(data\.clean\) or the training set \(data\.train\), not neither/,
    );
    await assert.rejects(runDefense({ name: 'test-identity' }, { ...ctx, data: { train, clean: train } }), /not both/);
    await assert.rejects(
      runDefense({ name: 'test-identity' }, { ...ctx, data: { train: fullTest } }),
      /data\.train comes from the test split; a defense never sees test images/,
    );
    await assert.rejects(runDefense({ name: 'test-identity' }, { ...ctx, data: { train: subset(train, []) } }), /data\.train is empty/);
    await assert.rejects(
      runDefense({ name: 'test-identity', options: { vandal: true } }, ctx),
      /changed the infected model's weights; a defense must work on a clone/,
    );
    model.dispose();
  });

  it('selects a seeded clean extra set of unaltered images and refuses poisoned indices', () => {
    const poisoned = Int32Array.from({ length: 100 }, (_, i) => 3 * i);
    const cross = Int32Array.from([1, 4]);
    const a = selectCleanExtra(1000, { poisoned, cross }, { rng: new Rng(1) });
    assert.equal(a.length, 50);
    assert.deepEqual(a, selectCleanExtra(1000, { poisoned, cross }, { rng: new Rng(1) }));
    assert.notDeepEqual(a, selectCleanExtra(1000, { poisoned, cross }, { rng: new Rng(2) }));
    const altered = new Set([...poisoned, ...cross]);
    assert.ok(Array.from(a).every((i, k) => !altered.has(i) && (k === 0 || a[k - 1] < i)));
    assert.equal(selectCleanExtra(1000, { poisoned }, { size: 7, rng: new Rng(1) }).length, 7);
    assert.throws(() => selectCleanExtra(1000, { poisoned }, { ratio: 0, rng: new Rng(1) }), /ratio: expected a number in \(0, 1\], got 0/);
    assert.throws(() => selectCleanExtra(1000, { poisoned }, { ratio: 1.5, rng: new Rng(1) }), /ratio: expected a number in \(0, 1\]/);
    assert.throws(
      () => selectCleanExtra(10, { poisoned: [] }, { ratio: 0.01, rng: new Rng(1) }),
      /size: expected an integer ≥ 1, got 0 \(ratio 0\.01 of 10 images\)/,
    );
    assert.throws(() => selectCleanExtra(1000, { poisoned }, { size: 950, rng: new Rng(1) }), /only 900 of 1000 training images are unaltered/);
    const ds = cleanExtraSet(train, Int32Array.from([2, 5]), { poisoned: [3] });
    assert.equal(ds.shape[0], 2);
    assert.throws(
      () => cleanExtraSet(train, Int32Array.from([2, 3]), { poisoned: [3] }),
      /1 of its 2 indices are poisoned or altered by the attack \(e\.g\. 3\)/,
    );
  });
});
