import { runtimeInfo } from '../backend';
import { configKey } from '../cache';
import { type PgdConfig } from '../attacks/adversarial/pgd';
import type { AttackRequest, InfectedModel } from '../attacks/backdoor/attack';
import { stampOrderOf } from '../attacks/backdoor/registry';
import { trainInfected } from '../attacks/backdoor/run';
import {
  adversarialExamples,
  adversarialLabelDistribution,
  allToAllMatrix,
  benignMatrix,
  budgetSweep,
  budgetSweepSpec,
  type BudgetRow,
  featureDistances,
  featureDistanceSpec,
  featureEmbedding,
  infectedMatrix,
  labelDistributionOf,
  labelMatrixSpec,
  summarizeMatrix,
  tsneSpec,
  type MatrixSummary,
} from '../analysis';
import { balancedIndices, type Dataset, type DatasetSplits, subset } from '../data/dataset';
import { datasetLocation, loadDataset } from '../data/registry';
import type { PoolProgressSink } from '../progress';
import { Rng } from '../rng';
import type { ResolvedProfile } from '../train/profiles';
import { profileData, trainBenign } from '../train/run';
import { trainModels } from './training';
import {
  cachedExperiment,
  experimentContext,
  type ExperimentContext,
  type ExperimentOptions,
  type FigureSpecs,
  type KeptResult,
  type ReportHeader,
  restoreResult,
  type ResultOutput,
  resultOutput,
  storedResult,
} from './output';

export interface ObserveConfig {
  profile: ResolvedProfile;
  attack: Omit<AttackRequest, 'target'>;
  /** target labels: one infected model each (all-to-one); the first is the one analysed in depth */
  targets: number[];
  seed: number;
  pgd: PgdConfig;
  /** clean test images the label matrices and distances are measured on */
  images: number;
  tsnePoints: number;
  /** budgets for the sweep; none → no sweep */
  sweep?: { linf: number[]; l2: number[]; images: number };
  dataPath?: string;
  backend?: string;
  outDir?: string;
}

export interface ObserveReport extends ReportHeader<ObserveConfig> {
  models: { benign: { acc: number }; infected: { target: number; acc: number; asr: number; targetAcc: number | null }[] };
  benign: MatrixSummary;
  infected: MatrixSummary;
  /** target share (l, or y + 1 for all-to-all) of the first infected model's adversarial examples, per true class */
  infectedByTrueClass: { trueClass: string; targetShare: number; n: number }[];
  distances: {
    n: number;
    infected: { dBenign: number; dInfected: number; ratio: number; cleanToTrigger: number };
    own: { dBenign: number; dInfected: number; ratio: number; cleanToTriggerBenign: number; cleanToTriggerInfected: number };
    targetShare: { benign: number; infected: number };
  };
  pgdSeconds: { images: number; seconds: number; perImage: number };
  sweep?: BudgetRow[];
  /** SVG paths by figure name */
  figures: Record<string, string>;
}

/** The report as written to report.json, the figures' Vega-Lite specs, and whether it was read from the cache. */
export type ObserveResult = ObserveReport & { specs: FigureSpecs; fromCache: boolean };

export interface ObserveOptions extends ExperimentOptions {
  /** progress of the pool's training jobs; default: one line per job on stderr */
  poolProgress?: PoolProgressSink;
}

/** `images` clean test images, balanced over classes, from the full test split when the profile's subset is smaller. */
export function analysisImages(full: DatasetSplits, profileSplits: DatasetSplits, n: number): Dataset {
  const test = profileSplits.test.shape[0] >= n ? profileSplits.test : full.test;
  const perClass = Math.ceil(n / test.classNames.length);
  const idx = balancedIndices(test, perClass).slice(0, n);
  return subset(test, idx, `${test.name}-analysis`);
}

/** What identifies an observation's result in the cache. */
function observationKey(cfg: ObserveConfig): object {
  // Where the data really is, not how it was asked for: `--path X` and PBE_CIFAR10_PATH=X share one entry.
  // The stamp order filled in: a notebook that leaves it out asks for what the CLI's default names.
  const attack = { ...cfg.attack, stamp: stampOrderOf(cfg.attack) };
  return { kind: 'observe', cfg: { ...cfg, attack, outDir: undefined, backend: undefined, dataPath: datasetLocation(cfg.profile.dataset, cfg.dataPath) } };
}

/** The infected models an observation measures: one per target, or the one all-to-all model, whose rows are the true classes. */
function observationRequests(cfg: Pick<ObserveConfig, 'attack' | 'targets'>): AttackRequest[] {
  const targets = cfg.attack.mode === 'all2all' ? [0] : cfg.targets;
  if (targets.length === 0) throw new Error('observe: give at least one target label');
  return targets.map((target) => ({ ...cfg.attack, target }));
}

/**
 * Trains the models of several observations of one profile and seed (other attacks, the same
 * benign model) on one job pool, so that they train side by side where `observe` after `observe`
 * would train them one at a time; each observation then finds its models in the cache.
 */
export async function trainObservationModels(cfgs: readonly ObserveConfig[], opts: ObserveOptions = {}): Promise<void> {
  const [first] = cfgs;
  for (const c of cfgs)
    if (configKey(c.profile) !== configKey(first.profile) || c.seed !== first.seed || c.dataPath !== first.dataPath)
      throw new Error('trainObservationModels: every observation must share one profile, seed and data path');
  const { cache } = experimentContext(opts);
  // A finished observation needs none of its models.
  const requests = cfgs.filter((c) => !cache.get('observations', observationKey(c))).flatMap(observationRequests);
  if (requests.length === 0) return;
  await trainModels(
    { profile: first.profile, seed: first.seed, requests, dataPath: first.dataPath },
    { cache, backend: first.backend, progress: opts.poolProgress },
  );
}

/**
 * The paper's observation for one attack (Fig. 1/4, Table 5, Fig. 5, optionally the budget sweep):
 * trains the benign model and one infected model per target through the job pool (or finds them
 * in the cache), then measures in this process and writes a JSON report and SVG figures. A
 * finished observation is read from the cache: at `cpu` its PGD runs take minutes.
 */
export async function observe(cfg: ObserveConfig, opts: ObserveOptions = {}): Promise<ObserveResult> {
  const { cache, progress } = experimentContext(opts);
  const key = observationKey(cfg);
  const out = resultOutput(cache, { key, folder: 'observe', name: `${cfg.profile.dataset}-${cfg.attack.name}`, outDir: cfg.outDir });
  return cachedExperiment(cache, {
    kind: 'observations',
    key,
    what: `the observation of ${cfg.attack.name} on ${cfg.profile.dataset}`,
    restore: async (entry) => {
      const { report, specs } = await restoreResult<ObserveReport>(entry, out);
      return { ...out.writeReport(report), specs, fromCache: true };
    },
    compute: (store) => measure(cfg, { ...opts, cache, progress }, out, store),
  });
}

/** The observation computed: models trained or loaded, then measured in this process; stored and written. */
async function measure(
  cfg: ObserveConfig,
  opts: ObserveOptions & ExperimentContext,
  out: ResultOutput,
  store: (kept: KeptResult) => Promise<void>,
): Promise<ObserveResult> {
  const { cache, progress } = opts;
  const full = await loadDataset(cfg.profile.dataset, { path: cfg.dataPath, cache });
  const splits = profileData(full, cfg.profile);

  const requests = observationRequests(cfg);
  await trainModels({ profile: cfg.profile, seed: cfg.seed, requests, dataPath: cfg.dataPath }, { cache, backend: cfg.backend, progress: opts.poolProgress });

  const benign = await trainBenign(cfg.profile, { seed: cfg.seed, cache, splits });
  const infected: InfectedModel[] = [];
  try {
    for (const request of requests) infected.push(await trainInfected(cfg.profile, request, { seed: cfg.seed, cache, splits }));
    const images = analysisImages(full, splits, cfg.images);
    const rng = new Rng(cfg.seed).fork('observe');
    const batchSize = 128;

    // One PGD run per model on these images: the benign and first infected model's adversarial
    // examples are kept for the distances and the t-SNE; the other models' only need counting.
    const t0 = Date.now();
    const benignAdv = adversarialExamples(benign.model, images, cfg.pgd, { batchSize, rng: rng.fork('benign'), progress });
    const pgdSeconds = (Date.now() - t0) / 1000;
    const mainAdv = adversarialExamples(infected[0].model, images, cfg.pgd, { batchSize, rng: rng.fork(`infected-${requests[0].target}`), progress });
    const benignDist = labelDistributionOf(images, benignAdv);
    const infectedDists = requests.map((r, i) =>
      i === 0
        ? labelDistributionOf(images, mainAdv)
        : adversarialLabelDistribution(infected[i].model, images, cfg.pgd, { batchSize, rng: rng.fork(`infected-${r.target}`), progress }),
    );
    const bm = benignMatrix(benignDist);
    const im =
      cfg.attack.mode === 'all2all'
        ? allToAllMatrix(infectedDists[0])
        : infectedMatrix(requests.map((r, i) => ({ target: r.target, distribution: infectedDists[i] })));

    const main = infected[0];
    const fd = featureDistances({ benign: benign.model, infected: main.model }, images, main.attack.trigger, cfg.pgd, {
      rule: main.attack.rule,
      batchSize,
      progress,
      adversarial: { benign: benignAdv, infected: mainAdv },
    });
    const embedding = featureEmbedding(main.model, images, main.attack.trigger, cfg.pgd, {
      target: cfg.attack.mode === 'all2all' ? null : main.attack.rule.target,
      points: Math.min(cfg.tsnePoints, 3 * images.shape[0]),
      rng: rng.fork('tsne'),
      batchSize,
      progress,
      adversarial: mainAdv,
    });
    const sweep = cfg.sweep
      ? budgetSweep(
          benign.model,
          [{ name: main.attack.name, infected: main.model, trigger: main.attack.trigger, rule: main.attack.rule }],
          analysisImages(full, splits, cfg.sweep.images),
          { eps: { linf: cfg.sweep.linf, l2: cfg.sweep.l2 }, batchSize, rng: rng.fork('sweep'), progress },
        )
      : undefined;

    const target = main.attack.rule.target;
    const byTrue = infectedDists[0].byTrueClass;
    const specs: FigureSpecs = {
      'label-matrix-benign': labelMatrixSpec(bm),
      'label-matrix-infected': labelMatrixSpec(im),
      'feature-distances': featureDistanceSpec([{ attack: main.attack.name, distances: fd }], 'infected'),
      tsne: tsneSpec(embedding, `t-SNE of the infected model's features, ${main.attack.name} (Fig. 5)`),
      ...(sweep ? { 'budget-sweep': budgetSweepSpec(sweep) } : {}),
    };
    const figures = await out.writeFigures(specs);
    const report: ObserveReport = {
      config: cfg,
      key: out.key,
      runtime: runtimeInfo(),
      models: {
        benign: { acc: benign.record.cleanAccuracy },
        infected: infected.map((m, i) => ({ target: requests[i].target, acc: m.acc, asr: m.asr, targetAcc: m.targetAcc })),
      },
      benign: summarizeMatrix(bm),
      infected: summarizeMatrix(im),
      infectedByTrueClass: byTrue.map((row, y) => {
        const n = row.reduce((a, b) => a + b, 0);
        const t = cfg.attack.mode === 'all2all' ? (y + 1) % row.length : target;
        return { trueClass: images.classNames[y], targetShare: n > 0 ? row[t] / n : 0, n };
      }),
      distances: {
        n: fd.n,
        infected: {
          dBenign: fd.infected.dBenign,
          dInfected: fd.infected.dInfected,
          ratio: fd.infected.ratio,
          cleanToTrigger: fd.infected.cleanToTrigger.infectedTerm,
        },
        own: {
          dBenign: fd.own.dBenign,
          dInfected: fd.own.dInfected,
          ratio: fd.own.ratio,
          cleanToTriggerBenign: fd.own.cleanToTrigger.benignTerm,
          cleanToTriggerInfected: fd.own.cleanToTrigger.infectedTerm,
        },
        targetShare: fd.targetShare,
      },
      pgdSeconds: { images: images.shape[0], seconds: pgdSeconds, perImage: pgdSeconds / images.shape[0] },
      sweep,
      figures,
    };
    await store({ contents: storedResult(report, specs), meta: { attack: cfg.attack.name } });
    return { ...out.writeReport(report), specs, fromCache: false };
  } finally {
    benign.model.dispose();
    for (const m of infected) {
      m.model.dispose();
      m.attack.trigger.dispose();
    }
  }
}
