import * as path from 'node:path';
import { runtimeInfo } from '../backend';
import { type StageMetrics, stagesSpec } from '../analysis/defense-stages';
import type { AttackRequest, InfectedModel, PoisonedSet } from '../attacks/backdoor/attack';
import { DEFAULT_POISON_RATIO, evaluateBackdoor, poisonTrainingSet } from '../attacks/backdoor/poison';
import { attackIdentity } from '../attacks/backdoor/registry';
import { trainInfected } from '../attacks/backdoor/run';
import { type Cache, configKey } from '../cache';
import type { Dataset } from '../data/dataset';
import { datasetLocation, loadDataset } from '../data/registry';
import { cleanExtraSet, selectCleanExtra } from '../defenses/clean-set';
import type { AnalysisRow, DefenderData, DefenseLogEntry, DefenseOptions, DefenseOptionValue, DefenseResult, GroundTruth } from '../defenses/defense';
import { type PgdBudget, pgdKeyOptions } from '../defenses/pgd-budget';
import {
  defenseDefinition,
  type DefenseRequest,
  optionProvenance,
  pgdProvenance,
  resolveDefenseOptions,
  resolveDefensePgd,
  runDefense,
} from '../defenses/registry';
import { loadWeightsInto, saveTensors } from '../io/checkpoint';
import { ResumableClock } from '../io/resumable-clock';
import type { Model } from '../models/model';
import { Rng } from '../rng';
import type { ResolvedProfile } from '../train/profiles';
import { profileData, trainingMemoryProblem } from '../train/run';
import {
  cachedExperiment,
  experimentContext,
  type ExperimentContext,
  type ExperimentOptions,
  type FigureSpecs,
  type ReportHeader,
  restoreResult,
  resultOutput,
  storedResult,
} from './output';

export type { StageMetrics };

export interface DefendConfig {
  defense: string;
  /** option overrides, applied after the profile's schedule */
  options?: Record<string, DefenseOptionValue>;
  /** for a defense with a PGD step (PBE): the budget's fields that differ from its defaults */
  pgd?: Partial<PgdBudget>;
  /** for a defense that takes either: give it the clean extra set (PBE's clean-data setting) instead of the training set */
  cleanData: boolean;
  /** the clean extra set: a share of the training set (default 5%) or a number of images */
  cleanRatio?: number;
  cleanSize?: number;
  profile: ResolvedProfile;
  attack: AttackRequest;
  seed: number;
  dataPath?: string;
  /** the report's folder instead of results/defend/<name>-<key>/ */
  outDir?: string;
}

export interface DefendReport extends ReportHeader<DefendConfig> {
  /** `pgd`: the budget of a defense with a PGD step (null without one; absent in reports written before it was one value, whose options hold it) */
  defense: { name: string; options: Record<string, DefenseOptionValue>; pgd?: PgdBudget | null; provenance: Record<string, string> };
  /** which data the defense saw */
  data: { train: number | null; clean: number | null };
  /** ACC/ASR measured by this experiment: before, at each stage the defense asked for, after */
  stages: StageMetrics[];
  before: { acc: number; asr: number };
  after: { acc: number; asr: number };
  log: DefenseLogEntry[];
  analysis: { rows: AnalysisRow[]; details?: unknown } | null;
  /** wall time of the defense itself, over every attempt (a run stopped and resumed counts both) */
  seconds: number;
  figures: Record<string, string>;
  /** where this report is written */
  reportFile: string;
}

export type DefendResult = DefendReport & { specs: FigureSpecs; fromCache: boolean };

export interface DefendOptions extends ExperimentOptions {
  /** called as each stage is measured, for a long run's log (the report holds them all at the end) */
  onStage?: (s: StageMetrics) => void;
}

/**
 * The training set as the defender receives it and the ground truth. The dynamic attack poisons
 * each batch afresh while training, so its defender gets a training set poisoned once with the
 * trained generators: the same share of images as the static attacks, triggered and relabelled.
 */
export function defenderView(infected: InfectedModel, seed: number): PoisonedSet {
  if (infected.poisoned) return infected.poisoned;
  return poisonTrainingSet(infected.data.train, infected.attack, { ratio: DEFAULT_POISON_RATIO, rng: new Rng(seed).fork('defender-poison') });
}

/**
 * The clean extra set of PBE's clean-data setting: images of the training set the attack left untouched,
 * drawn from the run's seed, so that every experiment on one infected model sees the same set.
 */
export function defenderCleanSet(view: PoisonedSet, cleanTrain: Dataset, cfg: Pick<DefendConfig, 'cleanRatio' | 'cleanSize' | 'seed'>): Dataset {
  const altered = { poisoned: view.poisonedIndices, cross: view.crossIndices };
  const idx = selectCleanExtra(view.data.shape[0], altered, { ratio: cfg.cleanRatio, size: cfg.cleanSize, rng: new Rng(cfg.seed).fork('clean-extra') });
  return cleanExtraSet(cleanTrain, idx, altered);
}

/** What a defend config asks for, resolved: the defense, its options and PGD budget, whether it gets the clean extra set, and the run's cache key. */
interface DefendRun {
  def: ReturnType<typeof defenseDefinition>;
  request: DefenseRequest;
  options: DefenseOptions;
  pgd: PgdBudget | null;
  useClean: boolean;
  key: { kind: 'defend'; cfg: unknown };
}

function identify(cfg: DefendConfig): DefendRun {
  const def = defenseDefinition(cfg.defense);
  const request = { name: cfg.defense, profile: cfg.profile.profile, options: cfg.options, pgd: cfg.pgd };
  const options = resolveDefenseOptions(request);
  const pgd = resolveDefensePgd(request);
  if (cfg.cleanData && def.data === 'train') throw new Error(`${cfg.defense}: works on the training set and takes no clean extra set (drop --clean-data)`);
  const useClean = def.data === 'clean' || (def.data === 'either' && cfg.cleanData);
  // The key names what the run depends on, not how it was asked for: the resolved options, the
  // attack's options with {} for none and its stamp order, and where the data really is (`pbe
  // defend --path X`, `pbe compare` and a notebook with PBE_CIFAR10_PATH=X share one entry). The
  // PGD budget goes in as the flat options keys have always named it (pgdKeyOptions).
  const attack = attackIdentity(cfg.attack);
  const dataPath = datasetLocation(cfg.profile.dataset, cfg.dataPath);
  const keyOptions = pgd ? { ...options, ...pgdKeyOptions(pgd) } : options;
  return {
    def,
    request,
    options,
    pgd,
    useClean,
    key: { kind: 'defend', cfg: { ...cfg, pgd: undefined, outDir: undefined, options: keyOptions, cleanData: useClean, attack, dataPath } },
  };
}

/** Refuses, before the data and the model are loaded, a defense whose gradient batches cannot fit the backend's heap with this model. */
function checkDefenseMemory(cfg: DefendConfig, run: DefendRun): void {
  for (const name of run.def.gradientBatches) {
    const memory = trainingMemoryProblem(cfg.profile.arch, run.options[name] as number, (max) => `--defense-option ${name}=${max}`);
    if (memory) throw new Error(`${cfg.defense}: ${memory}`);
  }
}

/** The cache key of a defend run (its folder under defenses/): equal keys read one result. */
export function defendKey(cfg: DefendConfig): string {
  return configKey(identify(cfg).key);
}

/** Whether a finished run of this config is in the cache (verified), so `defend` would only read it. */
export function defendCached(cfg: DefendConfig, cache: Cache): boolean {
  return cache.get('defenses', identify(cfg).key) !== null;
}

/**
 * Runs one defense on one cached infected model: gives it only the defender's data, measures ACC
 * and ASR itself at each stage the defense asks for, reads the intermediate results against the
 * ground truth, and writes the report and figures. A finished run is read from the cache; an
 * interrupted one resumes through the defense's own cached stages.
 */
export async function defend(cfg: DefendConfig, opts: DefendOptions = {}): Promise<DefendResult> {
  const { cache, progress } = experimentContext(opts);
  const run = identify(cfg);
  const out = resultOutput(cache, {
    key: run.key,
    folder: 'defend',
    name: `${cfg.profile.dataset}-${cfg.attack.name}-${cfg.attack.mode}-${cfg.defense}${run.useClean ? '-clean' : ''}`,
    outDir: cfg.outDir,
  });
  return cachedExperiment<DefendResult>(cache, {
    kind: 'defenses',
    key: run.key,
    what: `${cfg.defense} on ${cfg.attack.name} (${cfg.profile.dataset}, ${cfg.profile.profile})`,
    // Before the data and the infected model: a finished run needs neither.
    restore: async (entry) => {
      const { report, specs } = await restoreResult<DefendReport>(entry, out);
      return { ...out.writeReport({ ...report, reportFile: out.reportFile }), specs, fromCache: true };
    },
    compute: async (store) => {
      checkDefenseMemory(cfg, run);
      const splits = profileData(await loadDataset(cfg.profile.dataset, { path: cfg.dataPath, cache }), cfg.profile);
      const infected = await trainInfected(cfg.profile, cfg.attack, { seed: cfg.seed, cache, splits, progress });
      let purified: Model | null = null;
      try {
        const { data, truth } = defenderData(infected, splits.train, cfg, run.useClean);
        const measured = await defendMeasured(run, cfg, infected, splits.test, data, { cache, progress, onStage: opts.onStage });
        purified = measured.model;
        const analysis = run.def.analyze?.(measured.intermediate, truth) ?? null;
        const title = `${cfg.defense}${run.useClean ? ' with clean data' : ''} on ${cfg.attack.name} (${cfg.attack.mode}), ${cfg.profile.dataset}`;
        const specs: FigureSpecs = { 'acc-asr': stagesSpec(measured.stages, title), ...(analysis?.specs ?? {}) };
        const report: DefendReport = {
          config: cfg,
          key: out.key,
          runtime: runtimeInfo(),
          defense: { name: cfg.defense, options: run.options, pgd: run.pgd, provenance: { ...optionProvenance(run.request), ...pgdProvenance(run.request) } },
          data: { train: data.train?.shape[0] ?? null, clean: data.clean?.shape[0] ?? null },
          stages: measured.stages,
          before: { acc: infected.acc, asr: infected.asr },
          after: measured.after,
          log: measured.log,
          analysis: analysis ? { rows: analysis.rows, details: analysis.details } : null,
          seconds: measured.seconds,
          figures: await out.writeFigures(specs),
          reportFile: out.reportFile,
        };
        const model = purified;
        await store({
          contents: storedResult(report, specs),
          meta: { defense: cfg.defense, attack: cfg.attack.name },
          fill: (staging) => saveTensors(staging, model.namedWeights(), { key: configKey(run.key) }),
        });
        out.writeReport(report);
        return { ...report, specs, fromCache: false };
      } finally {
        purified?.dispose();
        infected.model.dispose();
        infected.attack.trigger.dispose();
      }
    },
  });
}

/** What the defender gets (the training set as poisoned, or the clean extra set) and the ground truth only the experiment knows. */
function defenderData(infected: InfectedModel, cleanTrain: Dataset, cfg: DefendConfig, useClean: boolean): { data: DefenderData; truth: GroundTruth } {
  const view = defenderView(infected, cfg.seed);
  const truth: GroundTruth = { poisoned: view.poisonedIndices, cross: view.crossIndices, trainSize: view.data.shape[0], rule: infected.attack.rule };
  return { data: useClean ? { clean: defenderCleanSet(view, cleanTrain, cfg) } : { train: view.data }, truth };
}

/**
 * The defense run with ACC and ASR measured here, on the test sets it never sees: the infected
 * model's, at each stage the defense reports, and the purified model's. The caller owns `model`.
 */
async function defendMeasured(
  run: DefendRun,
  cfg: DefendConfig,
  infected: InfectedModel,
  test: Dataset,
  data: DefenderData,
  ctx: ExperimentContext & Pick<DefendOptions, 'onStage'>,
) {
  const measure = (m: Model) => evaluateBackdoor(m, test, infected.triggered);
  const stages: StageMetrics[] = [];
  const record = (s: StageMetrics) => {
    stages.push(s);
    ctx.onStage?.(s);
  };
  record({ stage: 'infected', acc: infected.acc, asr: infected.asr });
  // A run stopped with a session resumes from its checkpoints in the next; its time counts both.
  const clock = new ResumableClock(path.join(ctx.cache.root, 'runs', `defend-${configKey(run.key)}.seconds.json`));
  let result: DefenseResult;
  try {
    result = await runDefense(run.request, {
      model: infected.model,
      data,
      augment: cfg.profile.train.augment,
      seed: cfg.seed,
      progress: (u) => {
        clock.tick();
        ctx.progress(u);
      },
      cache: ctx.cache,
      measure: async (stage, m) => record({ stage, ...(await measure(m)) }),
    });
  } catch (e) {
    clock.stop(false);
    throw e;
  }
  const seconds = clock.seconds();
  clock.stop(true);
  try {
    return { ...result, stages, seconds, after: await measure(result.model) };
  } catch (e) {
    result.model.dispose();
    throw e;
  }
}

/** Loads the purified weights of a finished `defend` run from the cache into `model`; false when it has not run. */
export async function loadPurified(cfg: DefendConfig, model: Model, opts: ExperimentOptions = {}): Promise<boolean> {
  const { cache } = experimentContext(opts);
  const entry = cache.get('defenses', identify(cfg).key);
  if (!entry) return false;
  await loadWeightsInto(entry.dir, model);
  return true;
}
