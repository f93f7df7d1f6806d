import * as path from 'node:path';
import { THEOREM1_TRAIN } from '../../analysis/theorem1';
import { initBackend, runtimeSummary } from '../../backend';
import { DATASET_NAMES } from '../../data/registry';
import { theorem1Report, type Theorem1RunConfig } from '../../experiments/theorem1';
import { defineCommand } from '../command';
import { cacheRoot } from '../../cache';
import { checkTarget, checkWritable, COMMON_OPTIONS, opt, UsageError } from '../options';

export const theorem1 = defineCommand({
  name: 'theorem1',
  summary: 'Theorem 1 on real images: linear softmax models, the share of L2 PGD perturbations along the trigger',
  options: {
    ...COMMON_OPTIONS,
    dataset: opt.choice('dataset', DATASET_NAMES, { default: 'mnist' }),
    pattern: opt.choice('trigger pattern P', ['noise', 'patch'] as const, { default: 'noise' }),
    strengths: opt.string('trigger norms |P|, comma-separated (default: 0.5,1,2,4,8)', 'X,X…'),
    target: opt.int('target label', { min: 0, default: 0 }),
    trainPerClass: opt.int('training images per class', { min: 1, default: 200 }),
    testPerClass: opt.int('test images per class', { min: 1, default: 50 }),
    epochs: opt.int("the linear model's epochs", { min: 1, default: THEOREM1_TRAIN.epochs }),
    lr: opt.number("the linear model's learning rate (MNIST's 0.1 oscillates on CIFAR-10; try 0.005)", { min: 0, default: THEOREM1_TRAIN.lr }),
    seed: opt.int('run seed', { min: 0, default: 0 }),
    out: opt.string('folder of the report and figure (default: results/theorem1/… in the cache)', 'dir'),
    path: opt.string("the dataset's location (see docs/data.md)", 'P'),
  },
  async run(o) {
    const strengths = (o.strengths ?? '0.5,1,2,4,8').split(',').map((v) => Number(v.trim()));
    if (strengths.some((v) => !(Number.isFinite(v) && v > 0)))
      throw new UsageError(`--strengths expects positive numbers separated by commas, got '${o.strengths}'`);
    const cfg: Theorem1RunConfig & { train: typeof THEOREM1_TRAIN } = {
      dataset: o.dataset,
      pattern: o.pattern,
      strengths,
      target: checkTarget(o.target, o.dataset),
      trainPerClass: o.trainPerClass,
      testPerClass: o.testPerClass,
      seed: o.seed,
      train: { ...THEOREM1_TRAIN, epochs: o.epochs, lr: o.lr },
    };
    checkWritable([{ flag: '--out', path: o.out, kind: 'dir' }], cacheRoot());
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const r = await theorem1Report(cfg, { data: { path: o.path }, outDir: o.out === undefined ? undefined : path.resolve(o.out) });
    const res = r.result;
    console.log(
      `\nTheorem 1 on ${cfg.dataset} (linear softmax, d = ${res.dims}, ${cfg.train.epochs} epochs at lr ${cfg.train.lr}, ${cfg.pattern} trigger, target ${cfg.target}), ${res.measured} test images, ${r.seconds.toFixed(0)} s${r.fromCache ? '  [from cache]' : ''}`,
    );
    console.log(`share of |r| along P (mean |⟨r, P⟩|/(|r||P|)); a random direction gives about √(2/πd) = ${Math.sqrt(2 / (Math.PI * res.dims)).toFixed(3)}`);
    console.log('   |P|   infected  random  benign   bound  ≥bound    ASR    ACC   ℓ        τ');
    for (const row of res.rows) {
      const i = row.infected;
      const f = (v: number) => v.toFixed(3).padStart(7);
      console.log(
        `${String(row.strength).padStart(6)}  ${f(i.alongTrigger)}  ${f(i.alongRandom)} ${f(row.benign.alongTrigger)} ${f(i.bound)} ${f(i.aboveBound)} ${f(i.asr)} ${f(i.acc)}  ${i.ell.toExponential(2)}  ${i.tau.toFixed(2)}`,
      );
    }
    console.log(`reading of ℓ and τ: ${res.reading}`);
    console.log(`figure: ${r.figure}`);
    return 0;
  },
});
