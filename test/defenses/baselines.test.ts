import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { Cache } from '../../src/cache';
import { type AnpLog, pruneNeurons } from '../../src/defenses/anp';
import { meanChannelActivation, pruningOrder } from '../../src/defenses/channel-pruning';
import type { DefenseContext } from '../../src/defenses/defense';
import type { FinePruningLog } from '../../src/defenses/fine-pruning';
import { type NadLog, nadTerms } from '../../src/defenses/nad';
import type { NeuralCleanseLog } from '../../src/defenses/neural-cleanse';
import { defenseDefinition, resolveDefenseOptions, runDefense } from '../../src/defenses';
import { weightsHash } from '../../src/models/weights';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { resolveProfile } from '../../src/train/profiles';
import { pipelineBackend } from '../helpers/backend';
import { backdoorMetrics, type BadNetsFixture, badnetsMnist } from './fixtures';

describe('the five baseline defenses on a BadNets mnist-net (smoke)', function () {
  // Neural Cleanse reverses ten triggers and ANP runs 150 mask iterations: over ten seconds each on a free core.
  this.timeout(600_000);
  const profile = resolveProfile('smoke', 'mnist');
  let f: BadNetsFixture;
  let dir: string;
  let ctx: Omit<DefenseContext, 'options' | 'pgd'>;
  let measured: { stage: string; acc: number; asr: number }[];
  let infectedHash: string;
  const smoke = (name: string, options?: Record<string, unknown>) => runDefense({ name, profile: 'smoke', options }, ctx);
  const option = (name: string, key: string) => resolveDefenseOptions({ name, profile: 'smoke' })[key] as number;

  before(async () => {
    await initBackend(pipelineBackend());
    f = await badnetsMnist();
    infectedHash = weightsHash(f.infected);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-baselines-'));
    measured = [];
    ctx = {
      model: f.infected,
      data: { clean: f.clean },
      augment: profile.train.augment,
      seed: 7,
      progress: silentSink,
      cache: new Cache(dir),
      measure: async (stage, m) => void measured.push({ stage, ...(await backdoorMetrics(m, f)) }),
    };
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(weightsHash(f.infected), infectedHash, 'a defense changed the infected model');
  });

  it('fine-tuning trains a copy on the clean data only, and a second run reads it from the cache', async () => {
    const tensors = tf.memory().numTensors;
    const first = await smoke('ft');
    const log = (r: typeof first) => (r.intermediate as { fineTune: { history: unknown[]; fromCache: boolean } }).fineTune;
    assert.equal(log(first).history.length, option('ft', 'epochs'));
    assert.equal(log(first).fromCache, false);
    assert.notEqual(weightsHash(first.model), infectedHash);
    const again = await smoke('ft');
    assert.equal(log(again).fromCache, true);
    assert.equal(weightsHash(again.model), weightsHash(first.model));
    first.model.dispose();
    again.model.dispose();
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
  });

  it('fine-pruning prunes the least active channels first, and they stay zero through fine-tuning', async () => {
    const { model, intermediate } = await smoke('fp');
    const log = intermediate as FinePruningLog;
    const maxAccDrop = option('fp', 'maxAccDrop');
    const order = pruningOrder(meanChannelActivation(f.infected, f.clean, 'conv2'));
    assert.ok(log.pruned.length >= 1, `pruned ${log.pruned.length}`);
    assert.deepEqual(log.pruned, Array.from(order.subarray(0, log.pruned.length)));
    const base = log.curve[0].acc;
    for (const point of log.curve.slice(0, log.pruned.length + 1)) assert.ok(base - point.acc <= maxAccDrop);
    const stopped = log.curve.at(-1)!;
    assert.ok(stopped.pruned === log.pruned.length || base - stopped.acc > maxAccDrop, 'pruning stops at the first channel past the accuracy drop');
    assert.equal(log.fineTune.history.length, option('fp', 'epochs'));
    assert.deepEqual(
      measured.map((m) => m.stage),
      ['pruned'],
      'the pruned model is measured before fine-tuning',
    );
    const weight = model.params.get('conv2.weight')!.arraySync() as number[][][][];
    const gamma = model.params.get('bn2.gamma')!.dataSync();
    const beta = model.params.get('bn2.beta')!.dataSync();
    for (const ch of log.pruned) {
      // Masking multiplies by zero: −0 for negative weights, which is zero all the same.
      assert.ok(gamma[ch] === 0 && beta[ch] === 0, `channel ${ch}: γ ${gamma[ch]}, β ${beta[ch]}`);
      for (const row of weight) for (const col of row) for (const input of col) assert.ok(input[ch] === 0);
    }
    const kept = Array.from({ length: 32 }, (_, k) => k).filter((k) => !log.pruned.includes(k));
    assert.ok(
      kept.some((k) => gamma[k] !== 0),
      'unpruned channels keep training',
    );
    const mean = meanChannelActivation(model, f.clean, 'conv2');
    for (const ch of log.pruned) assert.ok(mean[ch] === 0, `channel ${ch} still fires: ${mean[ch]}`);
    model.dispose();
  });

  it("NAD: distillation pulls the student's attention to the teacher's (against the same schedule with β = 0)", async () => {
    const defaults = await smoke('nad');
    const log = defaults.intermediate as NadLog;
    assert.deepEqual(log.terms, [{ layer: 'conv2', p: 2, beta: 5000 }]);
    assert.equal(log.attentionLoss.length, option('nad', 'epochs') + 1);
    defaults.model.dispose();
    // NAD's first epochs at lr 0.1 shake a model this small more than any loss term steers it, so
    // the mechanism is compared at a constant lr 0.01: β = 5000 against β = 0, which is plain
    // fine-tuning on NAD's schedule (NAD README); the gap is measured without β in both.
    const steady = { lr: 0.01, lrDropFactor: 1 };
    const distilled = await smoke('nad', steady);
    const plain = await smoke('nad', { ...steady, layers: 'conv2:0' });
    assert.equal((plain.intermediate as NadLog).teacher.fromCache, true, 'the teacher is shared');
    const gap = (r: typeof distilled) => (r.intermediate as NadLog).attentionLoss;
    const withAt = gap(distilled);
    const without = gap(plain);
    assert.ok(withAt.at(-1)! < without.at(-1)! * 0.5, `attention loss with β = 5000 ${withAt.join(' → ')}; with β = 0 ${without.join(' → ')}`);
    assert.ok(withAt.at(-1)! < withAt[0], `the attention loss falls: ${withAt.join(' → ')}`);
    distilled.model.dispose();
    plain.model.dispose();
  });

  it("NAD betas: one term per value on the model's last named activations, deepest last; clear errors", () => {
    const terms = (o: Partial<Parameters<typeof nadTerms>[1]>) => nadTerms(f.infected, { p: 2, beta: 5000, layers: '', betas: '', ...o });
    assert.deepEqual(f.infected.activationNames, ['conv1', 'conv2']);
    assert.deepEqual(terms({ betas: '500,1000' }), [
      { layer: 'conv1', p: 2, beta: 500 },
      { layer: 'conv2', p: 2, beta: 1000 },
    ]);
    assert.deepEqual(terms({ betas: '700' }), [{ layer: 'conv2', p: 2, beta: 700 }]);
    assert.throws(() => terms({ betas: '500,1000,1000' }), /nad\.betas: 3 values, but mnist-net has 2 named activations \(conv1, conv2\)/);
    assert.throws(() => terms({ betas: '500,,1000' }), /nad\.betas: expected/);
    assert.throws(() => terms({ betas: '500,x' }), /nad\.betas: expected 'β,…' \(numbers\), got '500,x'/);
    assert.throws(() => terms({ betas: '-1' }), /nad: β of 'conv2' must be ≥ 0, got -1/);
    assert.throws(() => terms({ betas: '1', layers: 'conv2:1' }), /nad: give layers \('conv2:1'\) or betas \('1'\), not both/);
  });

  it('Neural Cleanse: the target class has the smallest reversed mask and the largest small-side anomaly index', async () => {
    // Half the smoke profile's images per step (one batch): half the time, and the target's mask
    // stands out further (measured: norm 69 against 175 and more), so it is flagged and unlearnt too.
    const { model, intermediate } = await smoke('nc', { samplesPerStep: 50 });
    const log = intermediate as NeuralCleanseLog & { triggers: { norm: number }[] };
    const norms = log.triggers.map((t) => t.norm);
    assert.equal(norms.indexOf(Math.min(...norms)), f.target, `norms ${norms.map((v) => v.toFixed(1)).join(' ')}`);
    const { anomaly } = log;
    assert.equal(anomaly.anomalyIndex, anomaly.indices[f.target]);
    for (let k = 0; k < norms.length; k++) if (k !== f.target && norms[k] < anomaly.median) assert.ok(anomaly.indices[k] < anomaly.indices[f.target]);
    assert.equal(log.triggers.length, 10);
    assert.ok(Array.isArray(anomaly.flagged), 'flagged classes are always reported');
    const truth = {
      poisoned: new Int32Array(0),
      cross: new Int32Array(0),
      trainSize: 1000,
      rule: { mode: 'all2one' as const, target: f.target, numClasses: 10 },
    };
    const { rows } = defenseDefinition('nc').analyze!(intermediate, truth);
    assert.equal(rows.length, 10, "the report holds every class's index");
    assert.deepEqual(
      rows.filter((r) => r.attackTarget === 'yes').map((r) => r.class),
      [f.target],
    );
    assert.deepEqual(
      rows.filter((r) => r.flagged === 'yes').map((r) => r.class),
      anomaly.flagged.slice().sort((a, b) => a - b),
    );
    if (anomaly.flagged.length > 0) {
      assert.deepEqual(log.unlearned, anomaly.flagged);
      assert.ok(log.fineTune);
    } else {
      assert.equal(weightsHash(model), infectedHash, 'nothing flagged: the model is returned unchanged');
    }
    model.dispose();
  });

  it('ANP: its masks prune neurons, and pruning by them lowers ASR where random pruning does not', async () => {
    // The smoke profile's 150 mask iterations on batches of 25 instead of 50: half the time, and
    // masks that single out the backdoor more clearly (measured: ASR 0.3% after pruning 24 by
    // them, 27% with batches of 50; random pruning leaves 100%). The perturbation is projected
    // onto [−ε, ε] as the paper states: unprojected, as the authors' code runs (the default), the
    // masks moved ASR only from 100% to 95.8% here (measured), too little to test the mechanism on.
    const masks = { batchSize: 25, projectPerturbation: true };
    const { model, intermediate } = await smoke('anp', masks);
    const log = intermediate as AnpLog;
    assert.ok(log.pruned.length > 0, 'the default threshold prunes neurons');
    for (const p of log.pruned) assert.ok(p.mask <= 0.2 && model.params.get(`${p.layer}.gamma`)!.dataSync()[p.channel] === 0);
    model.dispose();
    // Half of mnist-net's 48 neurons, by ANP's masks (read from the cache) and at random. With a
    // third, the drop by ANP's masks ranged from 9 to 22 points as matmul rounding changed by 1e-6
    // (a process that had run the native kernels first), too close to the margin to test.
    const count = 24;
    const ranked = await smoke('anp', { ...masks, pruneBy: 'number', pruneCount: count });
    assert.equal((ranked.intermediate as AnpLog).fromCache, true);
    const byMask = (await backdoorMetrics(ranked.model, f)).asr;
    ranked.model.dispose();
    const random: number[] = [];
    for (const r of [0, 1, 2]) {
      const chosen = Array.from(new Rng(`random-${r}`).sample(log.scores.length, count), (i) => log.scores[i]);
      const m = pruneNeurons(f.infected, chosen);
      random.push((await backdoorMetrics(m, f)).asr);
      m.dispose();
    }
    const infected = (await backdoorMetrics(f.infected, f)).asr;
    const meanRandom = random.reduce((a, b) => a + b, 0) / random.length;
    assert.ok(byMask < infected - 0.1 && byMask < meanRandom - 0.1, `ASR ${infected} → ${byMask} by ANP's masks, ${random.join(', ')} at random`);
  });

  for (const name of ['ft', 'fp', 'nad', 'nc', 'anp']) {
    it(`${name} refuses to run without clean extra data, with a clear error`, async () => {
      await assert.rejects(runDefense({ name, profile: 'smoke' }, { ...ctx, data: {} }), new RegExp(`${name}: needs a clean extra set \\(data.clean\\)`));
      await assert.rejects(runDefense({ name, profile: 'smoke' }, { ...ctx, data: { train: f.clean } }), /needs a clean extra set/);
      const def = defenseDefinition(name);
      await assert.rejects(def.run({ ...ctx, data: {}, options: resolveDefenseOptions({ name, profile: 'smoke' }), pgd: null }), /needs clean extra data/);
    });
  }
});
