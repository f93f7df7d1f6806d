import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AttackRequest } from '../../attacks/backdoor/attack';
import { attackNames } from '../../attacks/backdoor/registry';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import { checkpointDataset, SCAN_IMAGES, scanPgdDefaults, scanThresholdDefaults } from '../../experiments/scan';
import { defaultWorkerCount } from '../../jobs/pool';
import { evaluateScan, type ScanEvalConfig, type ScanEvalReport } from '../../experiments/scan-eval';
import { PROFILE_NAMES } from '../../train/profiles';
import { defineCommand } from '../command';
import { checkTarget, checkWritable, opt, profileFrom, RUN_OPTIONS, scanPgdOptions, UsageError } from '../options';
import { scanPgdFrom } from './scan';

const list = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

export const scanEval = defineCommand({
  name: 'scan-eval',
  summary: 'the scan (and Neural Cleanse) over a population of benign and infected models: ROC, AUC, target accuracy, seconds per model',
  options: {
    ...RUN_OPTIONS,
    seeds: opt.intList('model seeds: a benign model and one per attack and target each (required unless --checkpoints)', { min: 0 }),
    attacks: opt.string(`all-to-one attacks, comma-separated: ${attackNames().join(', ')}`, 'name[,…]'),
    targets: opt.intList('targets of the all-to-one models (default 0)', { min: 0, arg: 'L,L…' }),
    all2all: opt.string('attacks also trained all-to-all (y → y+1), comma-separated', 'name[,…]'),
    checkpoints: opt.string('model folders (models/<key>/, record.json saying what each is) instead of training a population; comma-separated', 'dir[,…]'),
    ...scanPgdOptions(scanPgdDefaults()),
    images: opt.int(`clean test images per scan, drawn by --sample-seed (default ${SCAN_IMAGES})`, { min: 1 }),
    sampleSeed: opt.int('seed of the sample and PGD', { min: 0, default: 0 }),
    threshold: opt.number(`the scan's verdict threshold (default per dataset: ${scanThresholdDefaults()})`, { min: 0 }),
    nc: opt.choice("also run Neural Cleanse's test with its settings of this profile", PROFILE_NAMES),
    out: opt.string('write the report (JSON) here', 'file'),
  },
  async run(o) {
    const cache = new Cache();
    checkWritable([{ flag: '--out', path: o.out, kind: 'file' }], cache.root);
    let models: ScanEvalConfig['models'];
    if (o.checkpoints !== undefined) {
      if (o.seeds !== undefined || o.attacks !== undefined || o.all2all !== undefined)
        throw new UsageError('--checkpoints names the models; give no --seeds, --attacks or --all2all with it');
      const dirs = list(o.checkpoints);
      const missing = dirs.find((d) => !fs.existsSync(path.join(d, 'record.json')));
      if (missing !== undefined) throw new UsageError(`--checkpoints: ${missing} holds no record.json; expected model folders`);
      if (dirs.length === 0) throw new UsageError('--checkpoints: no folders given');
      models = { checkpoints: dirs };
    } else {
      if (o.seeds === undefined) throw new UsageError('missing --seeds (or --checkpoints)');
      const profile = profileFrom(o);
      const known = attackNames();
      const check = (names: string[], flag: string) => {
        const bad = names.find((n) => !known.includes(n));
        if (bad !== undefined) throw new UsageError(`${flag}: unknown attack '${bad}'; expected one of ${known.join(', ')}`);
        return names;
      };
      const targets = (o.targets ?? [0]).map((t) => checkTarget(t, profile.dataset, '--targets'));
      const attacks: AttackRequest[] = [
        ...check(list(o.attacks), '--attacks').flatMap((name) => targets.map((target) => ({ name, mode: 'all2one' as const, target }))),
        ...check(list(o.all2all), '--all2all').map((name) => ({ name, mode: 'all2all' as const, target: 0 })),
      ];
      if (attacks.length === 0) throw new UsageError('give --attacks or --all2all: a ROC curve needs infected models');
      models = { profile, seeds: o.seeds, attacks };
    }
    // A folder's dataset is read from its record; the budget follows it (MNIST's, or the paper's).
    const pgd = scanPgdFrom(o, 'checkpoints' in models ? checkpointDataset(models.checkpoints[0]) : models.profile.dataset);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const report = await evaluateScan(
      { models, pgd, images: o.images ?? SCAN_IMAGES, sampleSeed: o.sampleSeed, threshold: o.threshold, nc: o.nc ?? null, dataPath: o.path },
      { cache, log: (line) => console.log(line), workers: defaultWorkerCount() },
    );
    printSummary(report);
    if (o.out)
      fs.writeFileSync(
        o.out,
        JSON.stringify({ config: { pgd, images: o.images ?? SCAN_IMAGES, sampleSeed: o.sampleSeed, nc: o.nc ?? null }, ...report }, null, 2),
      );
    return 0;
  },
});

function printSummary(r: ScanEvalReport): void {
  const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(0)}%`);
  console.log('\ndetector  attack              infected benign   AUC  target acc  TPR  FPR (at its own threshold)');
  for (const s of r.summaries)
    console.log(
      `${s.detector.padEnd(9)} ${s.attack.padEnd(19)} ${String(s.infected).padStart(8)} ${String(s.benign).padStart(6)} ${s.auc.toFixed(3).padStart(5)} ${pct(s.targetAccuracy).padStart(11)} ${pct(s.truePositiveRate).padStart(4)} ${pct(s.falsePositiveRate).padStart(4)}`,
    );
  console.log(
    `seconds per model: scan ${r.secondsPerModel.scan.toFixed(1)}${r.secondsPerModel.nc !== null ? `, Neural Cleanse ${r.secondsPerModel.nc.toFixed(1)}` : ''}`,
  );
}
