import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PGD_DEFAULT } from '../../src/attacks/adversarial/pgd';
import { initBackend } from '../../src/backend';
import { Cache } from '../../src/cache';
import { observe, type ObserveConfig, trainObservationModels } from '../../src/experiments/observe';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { pipelineBackend } from '../helpers/backend';

/** The models folder's entries and when each was made: unchanged means nothing was trained again. */
const models = (cache: Cache) => Object.fromEntries(cache.list('models').entries.map((e) => [e.manifest.key, e.manifest.createdAt]));

describe('trainObservationModels: several observations train their models on one pool', function () {
  this.timeout(240000);
  let dir: string;
  before(() => initBackend(pipelineBackend()));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-obsmodels-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const config = (name: string, seed = 0): ObserveConfig => ({
    profile: resolveProfile('smoke', 'mnist'),
    attack: { name, mode: 'all2one' },
    targets: [0],
    seed,
    pgd: PGD_DEFAULT,
    images: 60,
    tsnePoints: 40,
  });

  it('trains the shared benign model and each attack once, which the observations then find; a finished observation asks for none', async () => {
    const cache = new Cache(dir);
    const jobs: string[] = [];
    await trainObservationModels([config('blend'), config('badnets')], { cache, poolProgress: (job: string) => void jobs.push(job) });
    assert.deepEqual(new Set(jobs), new Set(['benign', 'blend → 0', 'badnets → 0']));
    const trained = models(cache);
    assert.equal(Object.keys(trained).length, 3);

    // The pool reports only work done: a model found in the cache reports nothing.
    const observing: string[] = [];
    const r = await observe(config('badnets'), { cache, progress: silentSink, poolProgress: (job: string) => void observing.push(job) });
    assert.equal(r.fromCache, false);
    assert.deepEqual(observing, [], 'the observation trained a model again');
    assert.ok(r.models.infected[0].asr > 0.5, `ASR ${r.models.infected[0].asr}`);
    assert.deepEqual(models(cache), trained);

    const again: string[] = [];
    await trainObservationModels([config('badnets')], { cache, poolProgress: (job: string) => void again.push(job) });
    assert.deepEqual(again, [], 'a finished observation started the pool');
    await trainObservationModels([], { cache });
  });

  it('refuses observations of different seeds or profiles before training anything', async () => {
    const cache = new Cache(dir);
    await assert.rejects(
      trainObservationModels([config('blend'), config('badnets', 1)], { cache }),
      /every observation must share one profile, seed and data path/,
    );
    const other = { ...config('badnets'), profile: resolveProfile('smoke', 'mnist', { epochs: 2 }) };
    await assert.rejects(trainObservationModels([config('blend'), other], { cache }), /every observation must share one profile, seed and data path/);
    assert.deepEqual(models(cache), {});
  });
});
