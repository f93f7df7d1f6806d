import { attackNames } from '../../attacks/backdoor/registry';
import { stampOrderOf } from '../../attacks/backdoor/registry';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import { observe as runObserve, type ObserveConfig, type ObserveResult } from '../../experiments/observe';
import { defineCommand } from '../command';
import {
  ATTACK_OPTIONS,
  checkTarget,
  checkWritable,
  DEFAULT_TARGET,
  opt,
  PGD_OPTIONS,
  pgdFrom,
  profileFrom,
  required,
  RUN_OPTIONS,
  UsageError,
} from '../options';

export const observe = defineCommand({
  name: 'observe',
  summary: "the paper's observation for one attack: label matrices, feature distances, t-SNE, optionally the budget sweep",
  options: {
    ...RUN_OPTIONS,
    attack: opt.choice('the backdoor attack (required)', attackNames()),
    ...ATTACK_OPTIONS,
    targets: opt.intList('target labels, one infected model each; the first is analysed in depth (default: 0)', { min: 0, arg: 'L,L…' }),
    ...PGD_OPTIONS,
    images: opt.int('clean test images measured (default: smoke 200, else 2,000)', { min: 10 }),
    tsnePoints: opt.int('t-SNE points (default: smoke 300, else 2,000)', { min: 3 }),
    sweep: opt.flag('also sweep the PGD budget (L∞ 2–16/255, L2 0.25–2)'),
    sweepImages: opt.int('images of the sweep (default: smoke 100, else 500)', { min: 10 }),
    seed: opt.int('run seed', { min: 0, default: 0 }),
    out: opt.string('folder of the report and figures (default: results/observe/… in the cache)', 'dir'),
  },
  async run(o) {
    const attack = required(o.attack, '--attack', attackNames());
    const profile = profileFrom(o);
    const smoke = profile.profile === 'smoke';
    if (o.mode === 'all2all' && o.targets !== undefined)
      throw new UsageError('--targets are labels of all-to-one; --mode all2all relabels y → y+1 and takes none');
    const targets = (o.targets ?? [DEFAULT_TARGET]).map((t) => checkTarget(t, profile.dataset, '--targets'));
    const pgd = pgdFrom(o, profile.dataset);
    const cache = new Cache();
    checkWritable([{ flag: '--out', path: o.out, kind: 'dir' }], cache.root);
    const cfg: ObserveConfig = {
      profile,
      attack: { name: attack, mode: o.mode, options: o.option, stamp: stampOrderOf({ name: attack, stamp: o.stamp }) },
      targets,
      seed: o.seed,
      pgd,
      images: o.images ?? (smoke ? 200 : 2000),
      tsnePoints: o.tsnePoints ?? (smoke ? 300 : 2000),
      sweep: o.sweep ? { linf: [2, 4, 6, 8, 12, 16].map((v) => v / 255), l2: [0.25, 0.5, 1, 2], images: o.sweepImages ?? (smoke ? 100 : 500) } : undefined,
      dataPath: o.path,
      backend: o.backend,
      outDir: o.out,
    };
    await initBackend(cfg.backend);
    console.error(runtimeSummary());
    printObservation(await runObserve(cfg, { cache }));
    return 0;
  },
});

function printObservation(r: ObserveResult): void {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const { config: c } = r;
  console.log(
    `\n${c.attack.name} ${c.attack.mode} on ${c.profile.dataset}, profile ${c.profile.profile} (${c.profile.arch}); PGD ${c.pgd.norm} ε=${c.pgd.eps.toFixed(4)}, ${c.pgd.iterations} iterations, on ${c.images} test images${r.fromCache ? '  [from cache]' : ''}`,
  );
  console.log(
    `models: benign ACC ${pct(r.models.benign.acc)}; infected ${r.models.infected.map((m) => `→${m.target}: ACC ${pct(m.acc)} ASR ${pct(m.asr)}${typeof m.targetAcc === 'number' ? ` target-class ACC ${pct(m.targetAcc)}` : ''}`).join('; ')}`,
  );
  console.log(`\ninfected model(s): share of adversarial examples predicted as the target (paper: ≥ 40% per row)`);
  for (const row of r.infected.rows) console.log(`  ${row.label.padEnd(14)} ${pct(row.targetShare ?? 0).padStart(6)}`);
  console.log(
    `  min ${pct(r.infected.minTargetShare ?? 0)}, mean ${pct(r.infected.meanTargetShare ?? 0)}; adversarial success ${pct(r.infected.attackSuccessRate)}`,
  );
  console.log(`  by true class (first model): ${r.infectedByTrueClass.map((t) => `${t.trueClass} ${pct(t.targetShare)}`).join(', ')}`);
  console.log(`benign model: normalised entropy over wrong classes, per true class (1 = uniform)`);
  console.log(`  ${r.benign.rows.map((row) => `${row.label} ${(row.wrongClassEntropy ?? 0).toFixed(2)}`).join(', ')}`);
  console.log(`  share on the attack's target class: ${pct(r.distances.targetShare.benign)} (infected: ${pct(r.distances.targetShare.infected)})`);
  const d = r.distances;
  console.log(`\nfeature distances over ${d.n} images (Table 5):`);
  console.log(
    `  f = infected model: D_benign ${d.infected.dBenign.toFixed(3)}, D_infected ${d.infected.dInfected.toFixed(3)} (ratio ${d.infected.ratio.toFixed(3)}), clean→trigger ${d.infected.cleanToTrigger.toFixed(3)}`,
  );
  console.log(`  f = each model's own: D_benign ${d.own.dBenign.toFixed(3)}, D_infected ${d.own.dInfected.toFixed(3)} (ratio ${d.own.ratio.toFixed(3)})`);
  console.log(`PGD: ${r.pgdSeconds.seconds.toFixed(1)} s for ${r.pgdSeconds.images} images (${(1000 * r.pgdSeconds.perImage).toFixed(1)} ms/image)`);
  if (r.sweep) {
    console.log('\nbudget sweep (target share infected / benign; D_infected / D_benign with f = infected):');
    for (const s of r.sweep)
      console.log(
        `  ${s.norm.padEnd(4)} ε=${s.eps.toFixed(4).padEnd(7)} ${pct(s.targetShareInfected).padStart(6)} / ${pct(s.targetShareBenign).padStart(6)}   ${s.dInfected.toFixed(3)} / ${s.dBenign.toFixed(3)}`,
      );
  }
  console.log(`\nfigures: ${Object.values(r.figures).join(', ')}`);
}
