import { attackNames } from '../../attacks/backdoor/registry';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import { observationOverEpochs, type ObservationEpochsResult } from '../../experiments/observation-epochs';
import { defineCommand } from '../command';
import {
  ATTACK_OPTIONS,
  attackRequestFrom,
  checkWritable,
  opt,
  PGD_OPTIONS,
  pgdFrom,
  profileFrom,
  required,
  RUN_OPTIONS,
  targetFrom,
  UsageError,
} from '../options';

export const observeEpochs = defineCommand({
  name: 'observe-epochs',
  summary:
    "the observation after every training epoch: the infected and the benign model's share of adversarial examples on the target, trained keeping each epoch's weights",
  options: {
    ...RUN_OPTIONS,
    attack: opt.choice('the backdoor attack (required)', attackNames()),
    ...ATTACK_OPTIONS,
    target: opt.int('target label (default 0)', { min: 0 }),
    ...PGD_OPTIONS,
    images: opt.int('clean test images measured at each epoch (default: smoke 200, else 2,000)', { min: 10 }),
    seed: opt.int('run seed', { min: 0, default: 0 }),
  },
  async run(o) {
    const attack = required(o.attack, '--attack', attackNames());
    if (o.mode !== 'all2one') throw new UsageError('--mode all2all has no single target label to follow over epochs; use all2one');
    const profile = profileFrom(o);
    const target = targetFrom(o, profile.dataset);
    const pgd = pgdFrom(o, profile.dataset);
    const cache = new Cache();
    checkWritable([], cache.root);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const r = await observationOverEpochs(
      {
        profile,
        attack: attackRequestFrom(o, attack, target),
        seed: o.seed,
        pgd,
        images: o.images ?? (profile.profile === 'smoke' ? 200 : 2000),
        dataPath: o.path,
      },
      { cache },
    );
    printEpochs(r);
    return 0;
  },
});

function printEpochs(r: ObservationEpochsResult): void {
  const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(1)}%`);
  const c = r.config;
  console.log(
    `\n${c.attack.name} → ${r.target} on ${c.profile.dataset}, profile ${c.profile.profile} (${c.profile.arch}); PGD ${c.pgd.norm} ε=${c.pgd.eps.toFixed(4)} × ${c.pgd.iterations} on ${c.images} test images${r.fromCache ? '  [from cache]' : ''}`,
  );
  console.log('epoch  infected on target  benign on target  infected ACC  infected ASR  benign ACC');
  for (const e of r.epochs)
    console.log(
      `${String(e.epoch).padStart(5)}  ${pct(e.infectedTargetShare).padStart(18)}  ${pct(e.benignTargetShare).padStart(16)}  ${pct(e.infectedAcc).padStart(12)}  ${pct(e.infectedAsr).padStart(12)}  ${pct(e.benignAcc).padStart(10)}`,
    );
  console.log(`PGD ${r.seconds.toFixed(0)} s; report ${r.reportFile}`);
}
