import * as path from 'node:path';
import { initBackend, runtimeInfo, runtimeSummary } from '../backend';
import { runBench } from '../bench/bench';
import { Cache, cacheRoot, writeFileAtomic } from '../cache';
import { classCounts } from '../data/dataset';
import { DATASET_NAMES, findLocalDatasets, loadDataset, type DatasetName } from '../data/registry';
import { previewGrid } from '../image/png';
import { MODEL_ARCHS, type ModelArch } from '../models/model';
import { PROFILE_NAMES, type ProfileName, type ResolvedProfile, resolveProfile } from '../train/profiles';
import type { TrainBenignArgs } from '../train/jobs';
import type { InfectedJobArgs, InfectedSummary } from '../attacks/backdoor/jobs';
import { backdoorAttackNames } from '../attacks/backdoor/run';
import { buildAttack } from '../attacks/backdoor/registry';
import { fgsmConfig, type Norm, PGD_DEFAULT, type PgdConfig } from '../attacks/adversarial/pgd';
import { evaluateAdversarial } from '../experiments/pgd';
import { observe, type ObserveConfig, type ObserveReport } from '../experiments/observe';
import { theorem1Report } from '../experiments/theorem1';
import { THEOREM1_TRAIN, type TriggerPattern } from '../analysis/theorem1';
import type { AttackMode } from '../attacks/backdoor/trigger';
import { trainBenign, type TrainRecord } from '../train/run';
import { poolProgressSink, runJobs } from '../jobs/pool';
import { intListOpt, intOpt, keyValueOpts, numberOpt, oneOf, parse, type Parsed, stringOpt, UsageError } from './args';

const COMMON = {
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Options of every command that trains or loads models for a dataset under a profile, including
 * the profile overrides: a changed schedule is part of every cached model's key.
 */
const RUN = {
  ...COMMON,
  dataset: { type: 'string' },
  profile: { type: 'string' },
  seed: { type: 'string' },
  path: { type: 'string' },
  model: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'train-per-class': { type: 'string' },
} as const;

const RUN_USAGE = `--dataset <${DATASET_NAMES.join('|')}> [--profile <${PROFILE_NAMES.join('|')}>] [--model <${MODEL_ARCHS.join('|')}>] [--epochs N] [--batch-size N] [--lr X] [--train-per-class N]`;

/** The profile named by --profile (default cpu) for --dataset, with the command line's overrides. */
function profileFromArgs(p: Parsed): ResolvedProfile {
  const dataset = oneOf<DatasetName>(stringOpt(p, 'dataset'), DATASET_NAMES, '--dataset');
  const model = stringOpt(p, 'model');
  return resolveProfile(oneOf<ProfileName>(stringOpt(p, 'profile') ?? 'cpu', PROFILE_NAMES, '--profile'), dataset, {
    arch: model === undefined ? undefined : oneOf<ModelArch>(model, MODEL_ARCHS, '--model'),
    epochs: intOpt(p, 'epochs', 1),
    batchSize: intOpt(p, 'batch-size', 1),
    lr: numberOpt(p, 'lr', 0),
    trainPerClass: intOpt(p, 'train-per-class', 1),
  });
}

const PGD_OPTIONS = {
  norm: { type: 'string' },
  eps: { type: 'string' },
  iterations: { type: 'string' },
  'random-start': { type: 'boolean' },
} as const;

const PGD_USAGE = '[--norm <linf|l2>] [--eps E] [--iterations N] [--random-start]';

/** PGD as the reference code runs it (L∞ 6/255, step ε/5, 7 iterations), with the command line's changes; L2 defaults to ε = 0.5. */
function pgdFromArgs(p: Parsed): PgdConfig {
  const norm = oneOf<Norm>(stringOpt(p, 'norm') ?? 'linf', ['linf', 'l2'], '--norm');
  const eps = numberOpt(p, 'eps', 0) ?? (norm === 'linf' ? PGD_DEFAULT.eps : 0.5);
  const iterations = intOpt(p, 'iterations', 1) ?? PGD_DEFAULT.iterations;
  return { ...PGD_DEFAULT, norm, eps, step: eps / 5, iterations, randomStart: p.values['random-start'] === true };
}

interface Command {
  usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  info: {
    usage: 'pbe info [--backend B] [--json]',
    async run(argv) {
      const p = parse(argv, { ...COMMON, json: { type: 'boolean' } }, 0);
      await initBackend(stringOpt(p, 'backend'));
      const info = { ...runtimeInfo(), cacheDir: cacheRoot(), datasets: findLocalDatasets() };
      if (p.values.json) {
        console.log(JSON.stringify(info, null, 2));
        return 0;
      }
      console.log(`backend:   ${info.backend} (tfjs backend '${info.tfBackend}')`);
      console.log(`machine:   ${info.machine.cores}× ${info.machine.cpu}, ${info.machine.memoryGiB} GiB, ${info.machine.platform}`);
      console.log('versions:');
      for (const [k, v] of Object.entries(info.versions)) console.log(`  ${k.padEnd(30)} ${v ?? 'not installed'}`);
      console.log(`cache:     ${info.cacheDir}`);
      console.log('datasets:');
      for (const d of info.datasets) console.log(`  ${d.name.padEnd(14)} ${d.available ? 'found' : 'not found'}  ${d.where}`);
      return 0;
    },
  },

  data: {
    usage: `pbe data <${DATASET_NAMES.join('|')}> [--path P] [--out preview.png] [--backend B]`,
    async run(argv) {
      const p = parse(argv, { ...COMMON, path: { type: 'string' }, out: { type: 'string' } }, 1);
      const name = oneOf<DatasetName>(p.positionals[0], DATASET_NAMES, 'dataset');
      await initBackend(stringOpt(p, 'backend'));
      console.error(runtimeSummary());
      const splits = await loadDataset(name, { path: stringOpt(p, 'path'), cache: new Cache() });
      for (const ds of [splits.train, splits.test]) {
        const [n, h, w, c] = ds.shape;
        console.log(`${ds.name} ${ds.split}: ${n} images ${h}×${w}×${c}, ${ds.classNames.length} classes, from ${ds.source}`);
        const counts = classCounts(ds);
        const width = Math.max(...ds.classNames.map((s) => s.length));
        ds.classNames.forEach((cls, i) => console.log(`  ${String(i).padStart(3)} ${cls.padEnd(width)} ${counts[i]}`));
      }
      const out = path.resolve(stringOpt(p, 'out') ?? path.join(cacheRoot(), 'previews', `${name}.png`));
      writeFileAtomic(out, previewGrid(splits.train, { perClass: 8 }));
      console.log(`preview: ${out}`);
      return 0;
    },
  },
};

COMMANDS.train = {
  usage: `pbe train ${RUN_USAGE} [--seed S[,S…]] [--path P] [--backend B]`,
  async run(argv) {
    const p = parse(argv, RUN, 0);
    const profile = profileFromArgs(p);
    const { dataset } = profile;
    const seeds = intListOpt(p, 'seed', 0) ?? [0];
    const backend = stringOpt(p, 'backend');
    await initBackend(backend);
    console.error(runtimeSummary());
    const dataPath = stringOpt(p, 'path');
    let results: { record: TrainRecord; fromCache: boolean }[];
    if (seeds.length === 1) {
      const { model: trained, ...rest } = await trainBenign(profile, { seed: seeds[0], data: { path: dataPath } });
      trained.dispose();
      results = [rest];
    } else {
      // Load once here so the workers find the decoded dataset in the cache instead of racing to build it.
      await loadDataset(dataset, { path: dataPath });
      results = await runJobs(
        seeds.map((seed) => ({
          module: require.resolve('../train/jobs'),
          fn: 'trainBenignJob',
          args: { profile, seed, dataPath } satisfies TrainBenignArgs,
          label: `seed ${seed}`,
        })),
        { backend, onProgress: poolProgressSink() },
      );
    }
    for (const { record, fromCache } of results) {
      const last = record.history[record.history.length - 1];
      console.log(
        `${profile.arch} on ${dataset} (profile ${profile.profile}, seed ${String(record.seed)})${fromCache ? ' [from cache]' : ''}: ` +
          `clean accuracy ${(100 * record.cleanAccuracy).toFixed(2)}%, ${record.history.length} epochs in ${record.trainSeconds.toFixed(0)} s` +
          (last ? `, final train loss ${last.loss.toFixed(3)}` : ''),
      );
    }
    return 0;
  },
};

COMMANDS.bench = {
  usage: 'pbe bench [--model <smallcnn|preact-resnet18>] [--reps N] [--backend B]',
  async run(argv) {
    const p = parse(argv, { ...COMMON, model: { type: 'string' }, reps: { type: 'string' } }, 0);
    const model = stringOpt(p, 'model');
    await initBackend(stringOpt(p, 'backend'));
    const info = runtimeInfo();
    console.error(`${runtimeSummary()}, ${info.machine.memoryGiB} GiB`);
    const report = runBench({
      archs: model === undefined ? undefined : [oneOf<ModelArch>(model, MODEL_ARCHS, '--model')],
      reps: intOpt(p, 'reps', 1),
      log: (r) =>
        console.error(
          `${r.model.padEnd(16)} ${r.task.padEnd(11)} batch ${String(r.batch).padStart(3)}  ${r.secondsPerBatch.toFixed(3)} s/batch  ` +
            `${r.imagesPerSecond.toFixed(1).padStart(7)} img/s  ${r.gflopPerSecond.toFixed(1).padStart(5)} GFLOP/s${r.note ? `  (${r.note})` : ''}`,
        ),
    });
    console.log(JSON.stringify(report, null, 2));
    return 0;
  },
};

COMMANDS.attack = {
  usage: `pbe attack --attack <${backdoorAttackNames().join('|')}>[,…] ${RUN_USAGE} [--mode <all2one|all2all>] [--target L] [--ratio R] [--option key=value …] [--seed S] [--path P] [--backend B]`,
  async run(argv) {
    const p = parse(
      argv,
      {
        ...RUN,
        attack: { type: 'string' },
        mode: { type: 'string' },
        target: { type: 'string' },
        ratio: { type: 'string' },
        option: { type: 'string', multiple: true },
      },
      0,
    );
    const names = (stringOpt(p, 'attack') ?? '').split(',').filter((s) => s !== '');
    if (names.length === 0) throw new UsageError('missing --attack');
    for (const n of names) oneOf(n, backdoorAttackNames(), '--attack');
    const profile = profileFromArgs(p);
    const { dataset } = profile;
    const mode = oneOf<AttackMode>(stringOpt(p, 'mode') ?? 'all2one', ['all2one', 'all2all'], '--mode');
    const target = intOpt(p, 'target', 0) ?? 0;
    const ratio = numberOpt(p, 'ratio', 0);
    const options = keyValueOpts(p, 'option');
    const seed = intOpt(p, 'seed', 0) ?? 0;
    const backend = stringOpt(p, 'backend');
    const dataPath = stringOpt(p, 'path');
    await initBackend(backend);
    console.error(runtimeSummary());
    const { train } = await loadDataset(dataset, { path: dataPath });
    // Build each static attack once here, so a bad option is reported before any job starts.
    for (const name of names.filter((n) => n !== 'dynamic')) {
      const [, h, w, c] = train.shape;
      buildAttack({ name, rule: { mode, target, numClasses: train.classNames.length }, inputShape: [h, w, c], seed: 0, options }).trigger.dispose();
    }
    const t0 = Date.now();
    const jobs = [
      { module: require.resolve('../train/jobs'), fn: 'trainBenignJob', args: { profile, seed, dataPath } satisfies TrainBenignArgs, label: 'benign' },
      ...names.map((name) => ({
        module: require.resolve('../attacks/backdoor/jobs'),
        fn: 'trainInfectedJob',
        args: { profile, request: { name, mode, target, ratio, options }, seed, dataPath } satisfies InfectedJobArgs,
        label: name,
      })),
    ];
    const [benign, ...infected] = await runJobs<unknown>(jobs, { backend, onProgress: poolProgressSink() });
    const b = benign as { record: TrainRecord };
    const pct = (v: number) => (100 * v).toFixed(2).padStart(6);
    console.log(`\n${dataset}, profile ${profile.profile} (${profile.arch}), ${mode}${mode === 'all2one' ? `, target ${target}` : ''}, seed ${seed}`);
    console.log(`attack       ACC %   ASR %   ΔACC   poisoned  train s`);
    console.log(`benign      ${pct(b.record.cleanAccuracy)}       -      -          -  ${b.record.trainSeconds.toFixed(0).padStart(7)}`);
    for (const r of infected as InfectedSummary[]) {
      const delta = (100 * (r.acc - b.record.cleanAccuracy)).toFixed(2).padStart(6);
      console.log(`${r.attack.padEnd(10)}  ${pct(r.acc)}  ${pct(r.asr)}  ${delta}  ${(r.poisoned === null ? 'in-batch' : String(r.poisoned)).padStart(8)}  ${r.record.trainSeconds.toFixed(0).padStart(7)}${r.fromCache ? '  (cached)' : ''}`);
    }
    console.log(`wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const r of infected as InfectedSummary[]) {
      const curve = r.record.history.filter((e) => e.asr !== undefined);
      if (curve.length > 0) console.log(`${r.attack} per epoch, test ACC/ASR %: ${curve.map((e) => `${e.epoch}: ${(100 * e.testAcc!).toFixed(1)}/${(100 * e.asr!).toFixed(1)}`).join('  ')}`);
    }
    return 0;
  },
};

COMMANDS.observe = {
  usage: `pbe observe --attack <${backdoorAttackNames().join('|')}> ${RUN_USAGE} [--mode <all2one|all2all>] [--option key=value …] [--targets 0,1,…] ${PGD_USAGE} [--images N] [--tsne-points N] [--sweep] [--sweep-images N] [--seed S] [--out DIR] [--path P] [--backend B]`,
  async run(argv) {
    const p = parse(
      argv,
      {
        ...RUN,
        attack: { type: 'string' },
        mode: { type: 'string' },
        option: { type: 'string', multiple: true },
        targets: { type: 'string' },
        ...PGD_OPTIONS,
        images: { type: 'string' },
        'tsne-points': { type: 'string' },
        sweep: { type: 'boolean' },
        'sweep-images': { type: 'string' },
        out: { type: 'string' },
      },
      0,
    );
    const attack = oneOf(stringOpt(p, 'attack'), backdoorAttackNames(), '--attack');
    const profile = profileFromArgs(p);
    const mode = oneOf<AttackMode>(stringOpt(p, 'mode') ?? 'all2one', ['all2one', 'all2all'], '--mode');
    const smoke = profile.profile === 'smoke';
    const cfg: ObserveConfig = {
      profile,
      attack: { name: attack, mode, options: keyValueOpts(p, 'option') },
      targets: intListOpt(p, 'targets', 0) ?? [0],
      seed: intOpt(p, 'seed', 0) ?? 0,
      pgd: pgdFromArgs(p),
      images: intOpt(p, 'images', 10) ?? (smoke ? 200 : 2000),
      tsnePoints: intOpt(p, 'tsne-points', 3) ?? (smoke ? 300 : 2000),
      sweep: p.values.sweep
        ? { linf: [2, 4, 6, 8, 12, 16].map((v) => v / 255), l2: [0.25, 0.5, 1, 2], images: intOpt(p, 'sweep-images', 10) ?? (smoke ? 100 : 500) }
        : undefined,
      dataPath: stringOpt(p, 'path'),
      backend: stringOpt(p, 'backend'),
      outDir: stringOpt(p, 'out'),
    };
    await initBackend(cfg.backend);
    console.error(runtimeSummary());
    const r = await observe(cfg);
    printObservation(r);
    return 0;
  },
};

COMMANDS.pgd = {
  usage: `pbe pgd ${RUN_USAGE} ${PGD_USAGE} [--fgsm] [--images N] [--seed S] [--out report.json] [--path P] [--backend B]`,
  async run(argv) {
    const p = parse(argv, { ...RUN, ...PGD_OPTIONS, fgsm: { type: 'boolean' }, images: { type: 'string' }, out: { type: 'string' } }, 0);
    const profile = profileFromArgs(p);
    const fgsm = p.values.fgsm === true;
    if (fgsm && (stringOpt(p, 'norm') ?? 'linf') !== 'linf') throw new UsageError('--fgsm is an L∞ attack; drop --norm or use PGD');
    if (fgsm && stringOpt(p, 'iterations') !== undefined) throw new UsageError('--fgsm takes one step; drop --iterations');
    const pgd = fgsm ? fgsmConfig(numberOpt(p, 'eps', 0) ?? PGD_DEFAULT.eps) : pgdFromArgs(p);
    await initBackend(stringOpt(p, 'backend'));
    console.error(runtimeSummary());
    const outArg = stringOpt(p, 'out');
    const r = await evaluateAdversarial(
      { profile, seed: intOpt(p, 'seed', 0) ?? 0, pgd, images: intOpt(p, 'images', 1) ?? null, batchSize: 128 },
      { data: { path: stringOpt(p, 'path') }, out: outArg === undefined ? undefined : path.resolve(outArg) },
    );
    const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
    const attack = fgsm ? 'FGSM' : `PGD ${pgd.norm} ε=${pgd.eps.toFixed(4)} step ${pgd.step.toFixed(4)} × ${pgd.iterations}${pgd.randomStart ? ', random start' : ''}`;
    console.log(`\n${attack} against the benign ${r.model.arch} (${profile.dataset}, profile ${profile.profile}, seed ${r.config.seed}) on ${r.images} test images`);
    console.log(`clean accuracy ${pct(r.cleanAccuracy)}, adversarial accuracy ${pct(r.robustAccuracy)}, prediction changed for ${pct(r.spread.attackSuccessRate)}`);
    console.log(`attack time ${r.seconds.toFixed(1)} s (${((1000 * r.seconds) / r.images).toFixed(1)} ms/image, ${(r.images / r.seconds).toFixed(1)} images/s)`);
    console.log(`label spread (normalised entropy over the wrong classes, 1 = uniform): mean ${(r.spread.meanWrongClassEntropy ?? 0).toFixed(3)}, largest wrong-class share ${pct(r.spread.maxWrongClassShare ?? 0)}`);
    console.log(`report: ${r.out}`);
    return 0;
  },
};

COMMANDS.theorem1 = {
  usage: `pbe theorem1 [--dataset <${DATASET_NAMES.join('|')}>] [--pattern <noise|patch>] [--strengths 0.5,1,2,4,8] [--target L] [--train-per-class N] [--test-per-class N] [--epochs N] [--lr X] [--seed S] [--out DIR] [--path P] [--backend B]`,
  async run(argv) {
    const p = parse(
      argv,
      {
        ...COMMON,
        dataset: { type: 'string' },
        pattern: { type: 'string' },
        epochs: { type: 'string' },
        lr: { type: 'string' },
        strengths: { type: 'string' },
        target: { type: 'string' },
        'train-per-class': { type: 'string' },
        'test-per-class': { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        path: { type: 'string' },
      },
      0,
    );
    const strengths = (stringOpt(p, 'strengths') ?? '0.5,1,2,4,8').split(',').map((v) => Number(v.trim()));
    if (strengths.some((v) => !(Number.isFinite(v) && v > 0))) throw new UsageError(`--strengths expects positive numbers separated by commas, got '${stringOpt(p, 'strengths')}'`);
    const cfg = {
      dataset: oneOf<DatasetName>(stringOpt(p, 'dataset') ?? 'mnist', DATASET_NAMES, '--dataset'),
      pattern: oneOf<TriggerPattern>(stringOpt(p, 'pattern') ?? 'noise', ['noise', 'patch'], '--pattern'),
      strengths,
      target: intOpt(p, 'target', 0) ?? 0,
      trainPerClass: intOpt(p, 'train-per-class', 1) ?? 200,
      testPerClass: intOpt(p, 'test-per-class', 1) ?? 50,
      seed: intOpt(p, 'seed', 0) ?? 0,
      train: { ...THEOREM1_TRAIN, epochs: intOpt(p, 'epochs', 1) ?? THEOREM1_TRAIN.epochs, lr: numberOpt(p, 'lr', 0) ?? THEOREM1_TRAIN.lr },
    };
    await initBackend(stringOpt(p, 'backend'));
    console.error(runtimeSummary());
    const outArg = stringOpt(p, 'out');
    const r = await theorem1Report(cfg, { data: { path: stringOpt(p, 'path') }, outDir: outArg === undefined ? undefined : path.resolve(outArg) });
    const res = r.result;
    console.log(`\nTheorem 1 on ${cfg.dataset} (linear softmax, d = ${res.dims}, ${cfg.train.epochs} epochs at lr ${cfg.train.lr}, ${cfg.pattern} trigger, target ${cfg.target}), ${res.measured} test images, ${r.seconds.toFixed(0)} s`);
    console.log(`share of |r| along P (mean |⟨r, P⟩|/(|r||P|)); a random direction gives about √(2/πd) = ${Math.sqrt(2 / (Math.PI * res.dims)).toFixed(3)}`);
    console.log('   |P|   infected  random  benign   bound  ≥bound    ASR    ACC   ℓ        τ');
    for (const row of res.rows) {
      const i = row.infected;
      const f = (v: number) => v.toFixed(3).padStart(7);
      console.log(`${String(row.strength).padStart(6)}  ${f(i.alongTrigger)}  ${f(i.alongRandom)} ${f(row.benign.alongTrigger)} ${f(i.bound)} ${f(i.aboveBound)} ${f(i.asr)} ${f(i.acc)}  ${i.ell.toExponential(2)}  ${i.tau.toFixed(2)}`);
    }
    console.log(`reading of ℓ and τ: ${res.reading}`);
    console.log(`figure: ${r.figure}`);
    return 0;
  },
};

function printObservation(r: ObserveReport): void {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const { config: c } = r;
  console.log(`\n${c.attack.name} ${c.attack.mode} on ${c.profile.dataset}, profile ${c.profile.profile} (${c.profile.arch}); PGD ${c.pgd.norm} ε=${c.pgd.eps.toFixed(4)}, ${c.pgd.iterations} iterations, on ${c.images} test images`);
  console.log(`models: benign ACC ${pct(r.models.benign.acc)}; infected ${r.models.infected.map((m) => `→${m.target}: ACC ${pct(m.acc)} ASR ${pct(m.asr)}`).join('; ')}`);
  console.log(`\ninfected model(s): share of adversarial examples predicted as the target (paper: ≥ 40% per row)`);
  for (const row of r.infected.rows) console.log(`  ${row.label.padEnd(14)} ${pct(row.targetShare ?? 0).padStart(6)}`);
  console.log(`  min ${pct(r.infected.minTargetShare ?? 0)}, mean ${pct(r.infected.meanTargetShare ?? 0)}; adversarial success ${pct(r.infected.attackSuccessRate)}`);
  console.log(`  by true class (first model): ${r.infectedByTrueClass.map((t) => `${t.trueClass} ${pct(t.targetShare)}`).join(', ')}`);
  console.log(`benign model: normalised entropy over wrong classes, per true class (1 = uniform)`);
  console.log(`  ${r.benign.rows.map((row) => `${row.label} ${(row.wrongClassEntropy ?? 0).toFixed(2)}`).join(', ')}`);
  console.log(`  share on the attack's target class: ${pct(r.distances.targetShare.benign)} (infected: ${pct(r.distances.targetShare.infected)})`);
  const d = r.distances;
  console.log(`\nfeature distances over ${d.n} images (Table 5):`);
  console.log(`  f = infected model: D_benign ${d.infected.dBenign.toFixed(3)}, D_infected ${d.infected.dInfected.toFixed(3)} (ratio ${d.infected.ratio.toFixed(3)}), clean→trigger ${d.infected.cleanToTrigger.toFixed(3)}`);
  console.log(`  f = each model's own: D_benign ${d.own.dBenign.toFixed(3)}, D_infected ${d.own.dInfected.toFixed(3)} (ratio ${d.own.ratio.toFixed(3)})`);
  console.log(`PGD: ${r.pgdSeconds.seconds.toFixed(1)} s for ${r.pgdSeconds.images} images (${(1000 * r.pgdSeconds.perImage).toFixed(1)} ms/image)`);
  if (r.sweep) {
    console.log('\nbudget sweep (target share infected / benign; D_infected / D_benign with f = infected):');
    for (const s of r.sweep) console.log(`  ${s.norm.padEnd(4)} ε=${s.eps.toFixed(4).padEnd(7)} ${pct(s.targetShareInfected).padStart(6)} / ${pct(s.targetShareBenign).padStart(6)}   ${s.dInfected.toFixed(3)} / ${s.dBenign.toFixed(3)}`);
  }
  console.log(`\nfigures: ${Object.values(r.figures).join(', ')}`);
}

function usage(): string {
  return ['usage:', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`), '', 'PBE_BACKEND and PBE_CACHE_DIR set the backend and the cache folder.'].join('\n');
}

/** Entry point of `pbe`; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? console.log : console.error)(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`pbe: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`pbe ${name}: ${e.message}\nusage: ${command.usage}`);
      return 2;
    }
    throw e;
  }
}
