import * as path from 'node:path';
import { fgsmConfig, PGD_DEFAULT } from '../../attacks/adversarial/pgd';
import { initBackend, runtimeSummary } from '../../backend';
import { cacheRoot } from '../../cache';
import { evaluateAdversarial } from '../../experiments/pgd';
import { defineCommand } from '../command';
import { checkWritable, epsProblem, opt, PGD_OPTIONS, pgdFrom, profileFrom, RUN_OPTIONS, UsageError } from '../options';

export const pgd = defineCommand({
  name: 'pgd',
  summary: "attack the profile's benign model with PGD (or FGSM) over test images: clean and adversarial accuracy, label spread, time",
  options: {
    ...RUN_OPTIONS,
    ...PGD_OPTIONS,
    fgsm: opt.flag('one L∞ step of size ε instead of PGD'),
    images: opt.int('test images attacked, balanced over classes (default: the whole test split)', { min: 1 }),
    seed: opt.int('run seed', { min: 0, default: 0 }),
    out: opt.string('the report (default: results/adversarial/… in the cache)', 'file'),
  },
  async run(o) {
    const profile = profileFrom(o);
    if (o.fgsm && o.norm === 'l2') throw new UsageError('--fgsm is an L∞ attack; drop --norm or use PGD');
    if (o.fgsm && o.iterations !== undefined) throw new UsageError('--fgsm takes one step; drop --iterations');
    if (o.fgsm && o.randomStart) throw new UsageError('--fgsm starts from the clean image; drop --random-start');
    const fgsmProblem = o.fgsm ? epsProblem('linf', o.eps ?? PGD_DEFAULT.eps, profile.dataset) : null;
    if (fgsmProblem) throw new UsageError(`--eps ${fgsmProblem}`);
    const pgd = o.fgsm ? fgsmConfig(o.eps ?? PGD_DEFAULT.eps) : pgdFrom(o, profile.dataset);
    checkWritable([{ flag: '--out', path: o.out, kind: 'file' }], cacheRoot());
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const r = await evaluateAdversarial(
      { profile, seed: o.seed, pgd, images: o.images ?? null, batchSize: 128 },
      { data: { path: o.path }, out: o.out === undefined ? undefined : path.resolve(o.out) },
    );
    const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
    const attack = o.fgsm
      ? 'FGSM'
      : `PGD ${pgd.norm} ε=${pgd.eps.toFixed(4)} step ${pgd.step.toFixed(4)} × ${pgd.iterations}${pgd.randomStart ? ', random start' : ''}`;
    console.log(
      `\n${attack} against the benign ${r.model.arch} (${profile.dataset}, profile ${profile.profile}, seed ${r.config.seed}) on ${r.images} test images`,
    );
    console.log(
      `clean accuracy ${pct(r.cleanAccuracy)}, adversarial accuracy ${pct(r.robustAccuracy)}, prediction changed for ${pct(r.spread.attackSuccessRate)}`,
    );
    console.log(
      `attack time ${r.seconds.toFixed(1)} s (${((1000 * r.seconds) / r.images).toFixed(1)} ms/image, ${(r.images / r.seconds).toFixed(1)} images/s)`,
    );
    console.log(
      `label spread (normalised entropy over the wrong classes, 1 = uniform): mean ${(r.spread.meanWrongClassEntropy ?? 0).toFixed(3)}, largest wrong-class share ${pct(r.spread.maxWrongClassShare ?? 0)}`,
    );
    console.log(`report: ${r.out}`);
    return 0;
  },
});
