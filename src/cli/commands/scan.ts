import * as fs from 'node:fs';
import * as path from 'node:path';
import { type PgdConfig, pgdBudget } from '../../attacks/adversarial/pgd';
import { attackNames } from '../../attacks/backdoor/registry';

import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import type { DatasetName } from '../../data/registry';
import {
  checkpointDataset,
  loadScanModel,
  SCAN_IMAGES,
  SCAN_PGD,
  scanModel,
  type ScanModelSource,
  scanPgdDefaults,
  scanThresholdDefaults,
  type StoredScan,
  truthLabel,
} from '../../experiments/scan';
import { defineCommand } from '../command';
import {
  ATTACK_OPTIONS,
  attackRequestFrom,
  checkWritable,
  epsProblem,
  opt,
  type OptValues,
  PGD_OPTIONS,
  pgdSettingsFrom,
  profileFrom,
  RUN_OPTIONS,
  scanPgdOptions,
  targetFrom,
  UsageError,
} from '../options';

const SCAN_OPTIONS = {
  ...RUN_OPTIONS,
  attack: opt.choice('scan the model infected by this attack', attackNames()),
  ...ATTACK_OPTIONS,
  target: opt.int('target label of all-to-one (default 0)', { min: 0 }),
  benign: opt.flag('scan the benign model of the profile instead'),
  checkpoint: opt.string('scan the model in this folder (models/<key>/ of a cache: weights and record.json) instead', 'dir'),
  ...scanPgdOptions(scanPgdDefaults()),
  images: opt.int(`clean test images attacked, drawn by --seed, labels unused (default ${SCAN_IMAGES})`, { min: 1 }),
  threshold: opt.number(`verdict threshold on the robust z-score, > 0 (default per dataset: ${scanThresholdDefaults()})`, { min: 0 }),
  seed: opt.int('run seed: the model of the profile, the sample and PGD', { min: 0, default: 0 }),
};

/** The scan's budget: its per-dataset default (SCAN_PGD) under the flags given; ε checked against the images. */
export function scanPgdFrom(o: OptValues<typeof PGD_OPTIONS>, dataset: DatasetName): PgdConfig {
  const given = pgdSettingsFrom(o);
  const base = SCAN_PGD[dataset];
  // Another norm takes that norm's default radius, not MNIST's L∞ one.
  const sameNorm = given.norm === undefined || given.norm === base.norm;
  const cfg = pgdBudget({ iterations: base.iterations, ...(sameNorm ? { norm: base.norm, eps: base.eps } : {}), ...given });
  const problem = epsProblem(cfg.norm, cfg.eps, dataset);
  if (problem) throw new UsageError(`--eps ${problem}`);
  return cfg;
}

function sourceFrom(o: OptValues<typeof SCAN_OPTIONS>): ScanModelSource {
  const given = [o.attack !== undefined && '--attack', o.benign && '--benign', o.checkpoint !== undefined && '--checkpoint'].filter(Boolean);
  if (given.length !== 1)
    throw new UsageError(
      `give one model: --attack A (an infected model), --benign or --checkpoint DIR${given.length > 1 ? `; got ${given.join(' and ')}` : ''}`,
    );
  if (o.checkpoint !== undefined) {
    if (!fs.existsSync(path.join(o.checkpoint, 'record.json')))
      throw new UsageError(`--checkpoint ${o.checkpoint}: no record.json there; expected a model folder as the cache stores one (models/<key>/)`);
    return { kind: 'checkpoint', dir: o.checkpoint };
  }
  const profile = profileFrom(o);
  if (o.benign) return { kind: 'profile', profile, seed: o.seed };
  const attack = o.attack!;
  const target = targetFrom(o, profile.dataset);
  return {
    kind: 'profile',
    profile,
    seed: o.seed,
    attack: attackRequestFrom(o, attack, target),
  };
}

export const scanCommand = defineCommand({
  name: 'scan',
  summary: "is this model backdoored, and toward which label? Untargeted PGD on clean images, the adversarial labels' skew scored by MAD",
  options: SCAN_OPTIONS,
  async run(o) {
    const source = sourceFrom(o);
    if (o.threshold !== undefined && !(o.threshold > 0)) throw new UsageError(`--threshold expects a number > 0, got ${o.threshold}`);
    const images = o.images ?? SCAN_IMAGES;
    const pgd = scanPgdFrom(o, source.kind === 'checkpoint' ? checkpointDataset(source.dir) : source.profile.dataset);
    const cache = new Cache();
    checkWritable([], cache.root);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const loaded = await loadScanModel(source, { cache, dataPath: o.path });
    try {
      const r = await scanModel(loaded, { pgd, images, seed: o.seed, threshold: o.threshold, dataPath: o.path }, { cache });
      printScan(r, loaded.label, loaded.truth ? truthLabel(loaded.truth) : null, pgd);
    } finally {
      loaded.model.dispose();
    }
    return 0;
  },
});

function printScan(r: StoredScan, label: string, truth: string | null, pgd: PgdConfig): void {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const z = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : v > 0 ? '+inf' : '-inf');
  console.log(
    `\nscan of ${label}: PGD ${pgd.norm} ε=${pgd.eps.toFixed(4)}, ${pgd.iterations} iterations, on ${r.images} clean images labelled by the model's own predictions${r.fromCache ? '  [from cache]' : ''}`,
  );
  const verdict =
    r.verdict === 'all2one'
      ? `INFECTED, all-to-one, suspected target ${r.suspectedTarget} (${r.labels[r.suspectedTarget!].name})`
      : r.verdict === 'all2all'
        ? `INFECTED, all-to-all, y → y+${r.bestShift.shift}`
        : 'no backdoor found';
  console.log(`verdict: ${verdict}; score ${z(r.score)} against threshold ${r.threshold}${truth ? `  (record: ${truth})` : ''}`);
  console.log(`adversarial examples that changed the prediction: ${r.byPrediction.changed} of ${r.images}`);
  console.log(`\nper label: share of the other classes' adversarial examples landing on it, robust z (median ${pct(r.median)}, MAD ${pct(r.mad)})`);
  for (const l of r.labels) console.log(`  ${String(l.label).padStart(2)} ${l.name.padEnd(12)} ${pct(l.excessShare).padStart(6)}  z ${z(l.score).padStart(6)}`);
  console.log(
    `all-to-all: the best shift y → y+${r.bestShift.shift} carries ${pct(r.bestShift.meanShare)} per class, ${pct(r.bestShift.directedExcess)} beyond its reverse; z ${z(r.bestShift.score)}`,
  );
  console.log(`time: ${r.seconds.toFixed(1)} s`);
}
