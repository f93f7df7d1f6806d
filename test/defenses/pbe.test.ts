import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { evaluateBackdoor } from '../../src/attacks/backdoor/poison';
import type { InfectedModel } from '../../src/attacks/backdoor/attack';
import { trainInfected } from '../../src/attacks/backdoor/run';
import { initBackend } from '../../src/backend';
import { Cache } from '../../src/cache';
import { type DatasetSplits } from '../../src/data/dataset';
import { loadDataset } from '../../src/data/registry';
import { cleanExtraSet, selectCleanExtra } from '../../src/defenses/clean-set';
import { type DefenderData, type DefenseContext, DefenseInterrupted, type GroundTruth } from '../../src/defenses/defense';
import { analyzePbe } from '../../src/defenses/pbe-analysis';
import type { PbeIntermediate } from '../../src/defenses/pbe';
import { registerDefense, resolveDefenseOptions, resolveDefensePgd, runDefense } from '../../src/defenses/registry';
import { defend, defendKey, loadPurified } from '../../src/experiments/defend';
import { computeLedger } from '../../src/repro/ledger';
import { createModel } from '../../src/models/registry';
import { weightsHash } from '../../src/models/weights';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { resolveProfile } from '../../src/train/profiles';
import { profileData } from '../../src/train/run';
import { pipelineBackend } from '../helpers/backend';

/** MNIST's usual L∞ budget (6/255 barely moves a digit); two iterations keep the tests to seconds. */
const MNIST_PGD = { eps: 0.3 };
const MNIST_PBE = { topShares: [0.3] };

let spied: Omit<DefenseContext, 'options' | 'pgd'> | null = null;
let measured: unknown = 'not called';
registerDefense<{ unused: number }, null>('test-spy', {
  description: 'records what it is given and returns a clone',
  data: 'either',
  gradientBatches: [],
  defaults: { unused: 0 },
  provenance: { unused: 'test' },
  async run(ctx) {
    spied = ctx;
    measured = await ctx.measure('looked', ctx.model);
    return { model: ctx.model.clone(), log: [], intermediate: null };
  },
});

describe('PBE on MNIST smoke (blend, all-to-one)', function () {
  const profile = resolveProfile('smoke', 'mnist');
  let dir: string;
  let cache: Cache;
  let splits: DatasetSplits;
  let infected: InfectedModel;
  let truth: GroundTruth;
  let referenceHash: string;

  before(async () => {
    await initBackend(pipelineBackend());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-defense-'));
    cache = new Cache(dir);
    splits = profileData(await loadDataset('mnist', { cache }), profile);
    infected = await trainInfected(profile, { name: 'blend', mode: 'all2one', target: 0 }, { seed: 0, cache, splits, progress: silentSink });
    const { poisonedIndices, crossIndices, data } = infected.poisoned!;
    truth = { poisoned: poisonedIndices, cross: crossIndices, trainSize: data.shape[0], rule: infected.attack.rule };
  });
  after(() => {
    infected.model.dispose();
    infected.attack.trigger.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function run(data: DefenderData, options: Record<string, unknown>, extra: Partial<Omit<DefenseContext, 'options' | 'pgd'>> = {}) {
    const stages: { stage: string; acc: number; asr: number }[] = [];
    const ctx: Omit<DefenseContext, 'options' | 'pgd'> = {
      model: infected.model,
      data,
      augment: profile.train.augment,
      seed: 0,
      progress: silentSink,
      cache,
      measure: async (stage, m) => void stages.push({ stage, ...(await evaluateBackdoor(m, splits.test, infected.triggered)) }),
      ...extra,
    };
    return { stages, result: runDefense({ name: 'pbe', profile: 'smoke', options, pgd: MNIST_PGD }, ctx) };
  }

  it('without clean data: the first iteration erases the backdoor, the ranking finds the poisoned images, the ablation does not; no tensor leaks', async () => {
    const tensors = tf.memory().numTensors;
    const { stages, result } = run({ train: infected.poisoned!.data }, MNIST_PBE);
    const r = await result;
    referenceHash = weightsHash(r.model);
    r.model.dispose();
    assert.equal(tf.memory().numTensors, tensors, 'PBE leaked tensors');
    const rows = analyzePbe(r.intermediate as PbeIntermediate, truth).rows;
    const share = truth.poisoned.length / truth.trainSize;
    console.log(
      `      infected ASR ${infected.asr.toFixed(3)}, ACC ${infected.acc.toFixed(3)}; per iteration ${stages.map((s) => `ASR ${s.asr.toFixed(3)} ACC ${s.acc.toFixed(3)}`).join('; ')}`,
    );
    console.log(
      `      adversarial target share ${rows.map((x) => x.adversarialTargetShare?.toFixed(2)).join(', ')}; AP poisoned ${rows.map((x) => x.apPoisoned!.toFixed(3)).join(', ')} (share ${share.toFixed(2)}), AP clean ${rows.map((x) => x.apClean!.toFixed(3)).join(', ')}`,
    );
    assert.deepEqual(
      stages.map((s) => s.stage),
      ['iteration 1', 'iteration 2'],
    );
    assert.equal(rows[0].extraSize, Math.round(0.1 * truth.trainSize));
    assert.ok(stages[0].asr < infected.asr / 2, `ASR ${infected.asr} → ${stages[0].asr} after the adversarial fine-tuning step`);
    if (stages[0].asr < 0.2) assert.ok(rows[0].apPoisoned! > 2 * share, `AP for poisoned images ${rows[0].apPoisoned} vs their share ${share}`);

    const ablation = run({ train: infected.poisoned!.data }, { ...MNIST_PBE, adversarial: false });
    const a = await ablation.result;
    a.model.dispose();
    console.log(`      ablation without step 1: ASR ${ablation.stages.map((s) => s.asr.toFixed(3)).join(', ')}`);
    assert.ok(stages[0].asr < ablation.stages[0].asr - 0.3, `with step 1 ASR ${stages[0].asr}, without ${ablation.stages[0].asr}`);
  });

  it('with clean data: one adversarial then clean fine-tune lowers ASR', async () => {
    const altered = { poisoned: truth.poisoned, cross: truth.cross };
    const idx = selectCleanExtra(truth.trainSize, altered, { rng: new Rng(0).fork('clean-extra'), ratio: 0.1 });
    const { stages, result } = run({ clean: cleanExtraSet(splits.train, idx, altered) }, {});
    const r = await result;
    r.model.dispose();
    console.log(
      `      with clean data: ASR ${infected.asr.toFixed(3)} → ${stages[0].asr.toFixed(3)}, ACC ${infected.acc.toFixed(3)} → ${stages[0].acc.toFixed(3)}`,
    );
    assert.ok(stages[0].asr < infected.asr / 2);
  });

  it('an interrupted run resumes at its last finished epoch and ends bit-identical; a finished one comes from the cache', async () => {
    const other = new Cache(path.join(dir, 'resume'));
    const data = { train: infected.poisoned!.data };
    // Asked after each epoch but a stage's last: stops iteration 2 after its first epoch.
    let asked = 0;
    await assert.rejects(
      run(data, MNIST_PBE, { cache: other, shouldStop: () => ++asked === 2 }).result,
      (e: Error) => e instanceof DefenseInterrupted && /iteration 2/.test(e.message),
    );
    assert.equal(fs.readdirSync(path.join(other.root, 'runs')).filter((f) => !f.endsWith('.lock')).length, 1, 'no checkpoint of the interrupted iteration');
    const resumed = await run(data, MNIST_PBE, { cache: other }).result;
    const its = (resumed.intermediate as PbeIntermediate).iterations;
    assert.deepEqual(
      its.map((i) => i.fromCache),
      [true, false],
      'iteration 1 should come from the cache, iteration 2 resume',
    );
    assert.equal(weightsHash(resumed.model), referenceHash, 'resumed run differs from the uninterrupted one');
    resumed.model.dispose();
    const again = await run(data, MNIST_PBE, { cache: other }).result;
    assert.deepEqual(
      (again.intermediate as PbeIntermediate).iterations.map((i) => i.fromCache),
      [true, true],
    );
    assert.equal(weightsHash(again.model), referenceHash);
    again.model.dispose();
  });

  it("schedule options: 'algorithm-1' adds Step 2 to the first iteration; cleanAdversarialSteps makes exactly that many adversarial updates", async () => {
    const adversarialPerEpoch = (r: { intermediate: unknown }) =>
      (r.intermediate as PbeIntermediate).iterations[0].adversarial.map((e) => e?.adversarial ?? null);
    const extraSize = Math.round(0.1 * truth.trainSize);
    // Smoke: 2 epochs, both adversarial, every batch (50 + 10 images of the 60-image extra set).
    const reference = await run({ train: infected.poisoned!.data }, { ...MNIST_PBE, topShares: [] }).result;
    assert.deepEqual(adversarialPerEpoch(reference), [extraSize, extraSize]);
    const algorithm1 = await run({ train: infected.poisoned!.data }, { ...MNIST_PBE, topShares: [], firstIteration: 'algorithm-1', step2EpochsFirst: 2 })
      .result;
    assert.deepEqual(adversarialPerEpoch(algorithm1), [extraSize, extraSize, null, null]);
    assert.notEqual(weightsHash(algorithm1.model), weightsHash(reference.model));
    reference.model.dispose();
    algorithm1.model.dispose();

    const altered = { poisoned: truth.poisoned, cross: truth.cross };
    const idx = selectCleanExtra(truth.trainSize, altered, { rng: new Rng(0).fork('clean-extra'), ratio: 0.1 });
    const clean = cleanExtraSet(splits.train, idx, altered);
    // 60 images at batch 50: two batches an epoch. Three updates: all of epoch 1, the first (full) batch of epoch 2, then the smoke profile's 3 − 2 clean epochs.
    const steps = await run({ clean }, { cleanAdversarialSteps: 3 }).result;
    assert.deepEqual(adversarialPerEpoch(steps), [60, 50, null]);
    steps.model.dispose();
  });

  it('bad options and an empty extra set get clear errors', async () => {
    const bad = (options: Record<string, unknown>) => () => resolveDefenseOptions({ name: 'pbe', options });
    assert.throws(bad({ topShares: [0.2, 0] }), /pbe\.topShares\[1\]: expected a ratio in \(0, 1\], got 0/);
    assert.throws(bad({ extraRatio: 1.5 }), /pbe\.extraRatio: expected a ratio in \(0, 1\], got 1\.5/);
    assert.throws(bad({ epochsFirst: 2, adversarialEpochsFirst: 3 }), /pbe\.adversarialEpochsFirst: at most epochsFirst \(2\), got 3/);
    const badPgd = (pgd: Record<string, unknown>) => () => resolveDefensePgd({ name: 'pbe', pgd });
    assert.throws(badPgd({ norm: 'l3' }), /pbe\.pgd\.norm: expected 'linf' or 'l2', got 'l3'/);
    assert.throws(badPgd({ eps: -1 }), /pgd\.eps: expected a finite number ≥ 0/);
    assert.throws(badPgd({ stepFraction: Number.NaN }), /pbe\.pgd\.stepFraction: expected a finite number ≥ 0, got NaN/);
    assert.throws(badPgd({ step: 0.1 }), /pbe\.pgd: unknown field 'step'; expected norm, eps, stepFraction, iterations, randomStart/);
    assert.throws(bad({ pgdEps: 0.1 }), /pbe\.pgdEps: the PGD budget is not an option; give it as pgd: \{ eps: … \}/);
    assert.throws(() => resolveDefensePgd({ name: 'ft', pgd: { eps: 0.1 } }), /ft: has no PGD step, so it takes no PGD budget/);
    assert.throws(bad({ topShare: [0.2] }), /unknown option 'topShare'/);
    assert.throws(bad({ firstIteration: 'paper' }), /pbe\.firstIteration: expected one of reference-code, algorithm-1, got 'paper'/);
    assert.throws(bad({ step2EpochsFirst: 0 }), /pbe\.step2EpochsFirst: expected an integer ≥ 1, got 0/);
    assert.throws(bad({ cleanAdversarialSteps: 2.5 }), /pbe\.cleanAdversarialSteps: expected an integer ≥ 0, got 2\.5/);
    await assert.rejects(
      run({ train: infected.poisoned!.data }, { extraRatio: 0.0001 }).result,
      /pbe: the extra set of iteration 1 is empty \(extraRatio 0\.0001 of 600 images\)/,
    );
  });

  it('the experiment gives a defense no test image, measures ACC/ASR itself, and reads a finished run from the cache', async () => {
    const cfg = { defense: 'test-spy', cleanData: false, profile, attack: { name: 'blend', mode: 'all2one' as const, target: 0 }, seed: 0 };
    const first = await defend(cfg, { cache, progress: silentSink });
    assert.equal(first.fromCache, false);
    assert.ok(spied);
    assert.deepEqual(Object.keys(spied!.data), ['train']);
    // Everything reachable from the context, tensors aside: no dataset of the test split.
    const seen = new Set<unknown>();
    const walk = (v: unknown): void => {
      if (!v || typeof v !== 'object' || seen.has(v) || v instanceof tf.Tensor || ArrayBuffer.isView(v)) return;
      seen.add(v);
      assert.notEqual((v as { split?: string }).split, 'test', 'the defense can reach a test set');
      for (const child of Object.values(v)) walk(child);
    };
    walk(spied);
    assert.equal(measured, undefined, 'measure gave the defense something back');
    assert.deepEqual(
      first.stages.map((s) => s.stage),
      ['infected', 'looked'],
    );
    assert.equal(first.after.asr, infected.asr);
    spied = null;
    const second = await defend(cfg, { cache, progress: silentSink });
    assert.equal(second.fromCache, true);
    assert.equal(spied, null, 'the defense ran again');
    assert.deepEqual(second.stages, first.stages);
    // The spy's purified model is a clone of the infected one.
    const model = createModel(infected.model.config, 'other');
    assert.equal(await loadPurified(cfg, model, { cache }), true);
    assert.equal(weightsHash(model), weightsHash(infected.model));
    assert.equal(await loadPurified({ ...cfg, seed: 1 }, model, { cache }), false);
    model.dispose();
  });

  it("the suite's compute ledger adds up what the cache's models and defense runs recorded, in scope only", () => {
    // After the test above: this cache holds the infected model (and the benign one its attack may need) and the spy's run.
    const ledger = computeLedger(cache, { profile: 'smoke', dataset: 'mnist' });
    const row = (part: string, what: string) => ledger.rows.find((r) => r.part === part && r.what === what);
    assert.deepEqual([row('training', 'blend')?.entries, row('training', 'blend')?.seconds], [1, infected.record.trainSeconds]);
    assert.ok(infected.record.trainSeconds > 0);
    const key = defendKey({ defense: 'test-spy', cleanData: false, profile, attack: { name: 'blend', mode: 'all2one', target: 0 }, seed: 0 });
    const spy = JSON.parse(fs.readFileSync(path.join(cache.root, 'defenses', key, 'report.json'), 'utf8'));
    assert.deepEqual([row('defenses', 'test-spy')?.entries, row('defenses', 'test-spy')?.seconds], [1, spy.seconds]);
    assert.ok(Math.abs(ledger.seconds - ledger.rows.reduce((s, r) => s + r.seconds, 0)) < 1e-9);
    assert.ok(ledger.first !== null && ledger.last !== null && ledger.first <= ledger.last);
    assert.deepEqual(ledger.unverified, []);
    // Another profile's or dataset's work is not this suite's.
    assert.deepEqual(computeLedger(cache, { profile: 'cpu', dataset: 'mnist' }).rows, []);
    assert.deepEqual(computeLedger(cache, { profile: 'smoke', dataset: 'cifar10' }).rows, []);
    // A damaged entry is named and left out, not counted and not deleted.
    const copy = new Cache(fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-ledger-')));
    try {
      fs.cpSync(cache.root, copy.root, { recursive: true });
      const model = path.join(copy.root, 'models', infected.record.key);
      fs.appendFileSync(path.join(model, 'record.json'), ' ');
      const damaged = computeLedger(copy, { profile: 'smoke', dataset: 'mnist' });
      assert.equal(
        damaged.rows.find((r) => r.part === 'training' && r.what === 'blend'),
        undefined,
      );
      assert.equal(damaged.unverified.length, 1);
      assert.match(damaged.unverified[0], /record\.json has \d+ bytes, manifest says \d+/);
      assert.ok(fs.existsSync(model));
    } finally {
      fs.rmSync(copy.root, { recursive: true, force: true });
    }
  });
});
