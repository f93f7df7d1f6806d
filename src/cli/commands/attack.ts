import { initBackend, runtimeSummary } from '../../backend';
import { attackNames, checkAttack } from '../../attacks/backdoor/registry';
import { stampOrderOf } from '../../attacks/backdoor/registry';
import { Cache } from '../../cache';
import { loadDataset } from '../../data/registry';
import { trainModels } from '../../experiments/training';
import { defineCommand } from '../command';
import { ATTACK_OPTIONS, attackListFrom, checkWritable, DEFAULT_TARGET, opt, profileFrom, RUN_OPTIONS, targetFrom, UsageError } from '../options';

export const attack = defineCommand({
  name: 'attack',
  summary: 'train infected models (and the benign reference) through the worker pool; print ACC, ASR, ΔACC and the per-epoch curve',
  options: {
    ...RUN_OPTIONS,
    attack: opt.string(`attack(s), comma-separated: ${attackNames().join(', ')} (required)`, 'name[,…]'),
    ...ATTACK_OPTIONS,
    target: opt.int(`target label of all-to-one (default ${DEFAULT_TARGET})`, { min: 0 }),
    ratio: opt.number('share of the training set poisoned, in (0, 1) (default: the attack’s)', { min: 0 }),
    seed: opt.int('run seed', { min: 0, default: 0 }),
  },
  async run(o) {
    const names = attackListFrom(o.attack);
    const profile = profileFrom(o);
    const { dataset } = profile;
    const { mode, ratio, option: options, stamp, seed } = o;
    const target = targetFrom(o, dataset);
    if (ratio !== undefined && !(ratio > 0 && ratio < 1)) throw new UsageError(`--ratio expects a share of the training set in (0, 1), got ${ratio}`);
    const cache = new Cache();
    checkWritable([], cache.root);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const { train } = await loadDataset(dataset, { path: o.path, cache });
    // A bad option is reported here, before any job starts.
    const [, h, w, c] = train.shape;
    for (const name of names) {
      checkAttack({ name, rule: { mode, target, numClasses: train.classNames.length }, inputShape: [h, w, c], seed: 0, options });
      stampOrderOf({ name, stamp });
    }
    const t0 = Date.now();
    const { benign: b, infected } = await trainModels(
      { profile, seed, dataPath: o.path, requests: names.map((name) => ({ name, mode, target, ratio, options, stamp })) },
      { cache, backend: o.backend },
    );
    const pct = (v: number) => (100 * v).toFixed(2).padStart(6);
    console.log(`\n${dataset}, profile ${profile.profile} (${profile.arch}), ${mode}${mode === 'all2one' ? `, target ${target}` : ''}, seed ${seed}`);
    console.log(`attack       ACC %   ASR %   ΔACC  target ACC %  poisoned  train s`);
    console.log(`benign      ${pct(b.record.cleanAccuracy)}       -      -             -         -  ${b.record.trainSeconds.toFixed(0).padStart(7)}`);
    for (const r of infected) {
      const delta = (100 * (r.acc - b.record.cleanAccuracy)).toFixed(2).padStart(6);
      const targetAcc = (r.targetAcc === null ? '-' : pct(r.targetAcc)).padStart(12);
      console.log(
        `${r.attack.padEnd(10)}  ${pct(r.acc)}  ${pct(r.asr)}  ${delta}  ${targetAcc}  ${(r.poisoned === null ? 'in-batch' : String(r.poisoned)).padStart(8)}  ${r.record.trainSeconds.toFixed(0).padStart(7)}${r.fromCache ? '  (cached)' : ''}`,
      );
    }
    console.log(`wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const r of infected) {
      const curve = r.record.history.filter((e) => e.asr !== undefined);
      if (curve.length > 0)
        console.log(
          `${r.attack} per epoch, test ACC/ASR %: ${curve.map((e) => `${e.epoch}: ${(100 * e.testAcc!).toFixed(1)}/${(100 * e.asr!).toFixed(1)}`).join('  ')}`,
        );
    }
    return 0;
  },
});
