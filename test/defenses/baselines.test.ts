import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { Cache } from '../../src/cache';
import { anp } from '../../src/defenses/anp';
import { baselineSchedules } from '../../src/defenses/baseline-schedules';
import type { BaselineRun } from '../../src/defenses/baseline-run';
import { meanChannelActivation, pruningOrder } from '../../src/defenses/channel-pruning';
import { finePruning } from '../../src/defenses/fine-pruning';
import { fineTuning } from '../../src/defenses/fine-tuning';
import { nad } from '../../src/defenses/nad';
import { neuralCleanse } from '../../src/defenses/neural-cleanse';
import { weightsHash } from '../../src/models/model';
import { silentSink } from '../../src/progress';
import { resolveProfile } from '../../src/train/profiles';
import { backdoorMetrics, type BadNetsFixture, badnetsMnist } from './fixtures';

describe('the five baseline defenses on a BadNets mnist-net (smoke)', function () {
  const profile = resolveProfile('smoke', 'mnist');
  const s = baselineSchedules(profile);
  let f: BadNetsFixture;
  let dir: string;
  let run: BaselineRun;
  let infectedHash: string;

  before(async () => {
    await initBackend('wasm');
    f = await badnetsMnist();
    infectedHash = weightsHash(f.infected);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-baselines-'));
    run = { infected: f.infected, clean: f.clean, seed: 7, progress: silentSink, cache: new Cache(dir) };
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(weightsHash(f.infected), infectedHash, 'a defense changed the infected model');
  });

  it('fine-tuning trains a copy on the clean data only, and a second run reads it from the cache', async () => {
    const tensors = tf.memory().numTensors;
    const first = await fineTuning(run, s.ft);
    assert.equal(first.log.history.length, s.ft.train.epochs);
    assert.equal(first.log.fromCache, false);
    assert.notEqual(weightsHash(first.model), infectedHash);
    const again = await fineTuning(run, s.ft);
    assert.equal(again.log.fromCache, true);
    assert.equal(weightsHash(again.model), weightsHash(first.model));
    first.model.dispose();
    again.model.dispose();
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
  });

  it('fine-pruning prunes the least active channels first, and they stay zero through fine-tuning', async () => {
    const { model, log } = await finePruning(run, s.fp);
    const order = pruningOrder(meanChannelActivation(f.infected, f.clean, 'conv2'));
    assert.ok(log.pruned.length >= 1, `pruned ${log.pruned.length}`);
    assert.deepEqual(log.pruned, Array.from(order.subarray(0, log.pruned.length)));
    const base = log.curve[0].acc;
    for (const point of log.curve.slice(0, log.pruned.length + 1)) assert.ok(base - point.acc <= s.fp.maxAccDrop);
    const stopped = log.curve.at(-1)!;
    assert.ok(stopped.pruned === log.pruned.length || base - stopped.acc > s.fp.maxAccDrop, 'pruning stops at the first channel past the accuracy drop');
    assert.equal(log.fineTune.history.length, s.fp.train.epochs);
    const weight = model.params.get('conv2.weight')!.arraySync() as number[][][][];
    const gamma = model.params.get('bn2.gamma')!.dataSync();
    const beta = model.params.get('bn2.beta')!.dataSync();
    for (const ch of log.pruned) {
      assert.equal(gamma[ch], 0);
      assert.equal(beta[ch], 0);
      for (const row of weight) for (const col of row) for (const input of col) assert.equal(input[ch], 0);
    }
    const kept = Array.from({ length: 32 }, (_, k) => k).filter((k) => !log.pruned.includes(k));
    assert.ok(kept.some((k) => gamma[k] !== 0), 'unpruned channels keep training');
    const mean = meanChannelActivation(model, f.clean, 'conv2');
    for (const ch of log.pruned) assert.equal(mean[ch], 0);
    model.dispose();
  });

  it('NAD: the attention loss between student and teacher falls', async () => {
    const { model, log } = await nad(run, s.nad);
    assert.deepEqual(log.terms, [{ layer: 'conv2', p: 2, beta: 5000 }]);
    assert.equal(log.attentionLoss.length, s.nad.student.epochs + 1);
    const [first, ...rest] = log.attentionLoss;
    assert.ok(rest.at(-1)! < first * 0.8, `attention loss ${log.attentionLoss.map((v) => v.toFixed(4)).join(' → ')}`);
    model.dispose();
  });

  it('Neural Cleanse: the target class has the smallest reversed mask and the largest small-side anomaly index', async () => {
    const { model, log } = await neuralCleanse(run, s.nc);
    const norms = log.triggers.map((t) => t.norm);
    assert.equal(norms.indexOf(Math.min(...norms)), f.target, `norms ${norms.map((v) => v.toFixed(1)).join(' ')}`);
    const { anomaly } = log;
    assert.equal(anomaly.anomalyIndex, anomaly.indices[f.target]);
    for (let k = 0; k < norms.length; k++) if (k !== f.target && norms[k] < anomaly.median) assert.ok(anomaly.indices[k] < anomaly.indices[f.target]);
    assert.equal(log.triggers.length, 10);
    assert.ok(Array.isArray(anomaly.flagged), 'flagged classes are always reported');
    if (anomaly.flagged.length > 0) {
      assert.deepEqual(log.unlearned, anomaly.flagged);
      assert.ok(log.fineTune);
    } else {
      assert.equal(weightsHash(model), infectedHash, 'nothing flagged: the model is returned unchanged');
    }
    model.dispose();
  });

  it('ANP: its masks prune neurons, and pruning by the masks lowers ASR', async () => {
    const before = backdoorMetrics(f.infected, f);
    const { model, log } = await anp(run, s.anp, profile.train.augment);
    assert.ok(log.pruned.length > 0, 'the default threshold prunes neurons');
    for (const p of log.pruned) assert.ok(p.mask <= 0.2);
    for (const p of log.pruned) assert.equal(model.params.get(`${p.layer}.gamma`)!.dataSync()[p.channel], 0);
    const after = backdoorMetrics(model, f);
    assert.ok(after.asr < before.asr, `ASR ${before.asr} → ${after.asr}`);
    model.dispose();
  });

  for (const [name, fn] of [
    ['fine-tuning', () => fineTuning({ ...run, clean: undefined }, s.ft)],
    ['fine-pruning', () => finePruning({ ...run, clean: undefined }, s.fp)],
    ['NAD', () => nad({ ...run, clean: undefined }, s.nad)],
    ['Neural Cleanse', () => neuralCleanse({ ...run, clean: undefined }, s.nc)],
    ['ANP', () => anp({ ...run, clean: undefined }, s.anp, profile.train.augment)],
  ] as const) {
    it(`${name} refuses to run without clean extra data`, async () => {
      await assert.rejects(fn(), new RegExp(`${name} needs clean extra data`));
    });
  }
});
