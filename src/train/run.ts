import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { activeBackend, runtimeInfo } from '../backend';
import { Cache, type CacheEntry, configKey } from '../cache';
import { balancedIndices, type Dataset, type DatasetSplits, type ImageSet, subset } from '../data/dataset';
import { loadDataset, type LoadOptions } from '../data/registry';
import { loadWeightsInto, saveTensors } from '../io/checkpoint';
import { claimRun } from '../io/run-lock';
import type { Model, ModelConfig } from '../models/model';
import { createModel } from '../models/registry';
import { weightsHash } from '../models/weights';
import type { ProgressSink } from '../progress';
import type { Seed } from '../rng';
import type { ResolvedProfile } from './profiles';
import { accuracy, dataHash, type EpochMetrics, type EpochRecord, train, type TrainConfig, type TrainOptions } from './trainer';

/** Applies a profile's per-class subset to loaded splits (the first images of each class). */
export function profileData(splits: DatasetSplits, p: Pick<ResolvedProfile, 'trainPerClass' | 'testPerClass'>): DatasetSplits {
  const cut = (ds: Dataset, perClass: number | null) => (perClass === null ? ds : subset(ds, balancedIndices(ds, perClass)));
  return { train: cut(splits.train, p.trainPerClass), test: cut(splits.test, p.testPerClass) };
}

export function modelConfigFor(p: ResolvedProfile, ds: Dataset): ModelConfig {
  const [, h, w, c] = ds.shape;
  return { arch: p.arch, inputShape: [h, w, c], numClasses: ds.classNames.length };
}

/** What a cached model records beside its weights. */
export interface TrainRecord {
  key: string;
  spec: unknown;
  seed: Seed;
  history: EpochRecord[];
  cleanAccuracy: number;
  trainSeconds: number;
  runtime: ReturnType<typeof runtimeInfo>;
  /** what a special training loop records besides the per-epoch history (the dynamic attack's stages) */
  details?: unknown;
}

export interface TrainedModel {
  model: Model;
  record: TrainRecord;
  fromCache: boolean;
}

export interface TrainJob {
  /** What identifies the model: everything that changes its weights goes in here. */
  spec: Record<string, unknown>;
  modelConfig: ModelConfig;
  trainSet: Dataset;
  testSet: Dataset;
  /** measured after every epoch; default: clean accuracy on `testSet` */
  evaluate?: (model: Model) => EpochMetrics | Promise<EpochMetrics>;
  /** changes each augmented batch before the step (stamping a trigger after augmentation); `spec` must say what it does */
  prepareBatch?: TrainOptions['prepareBatch'];
  profile: ResolvedProfile;
  seed: Seed;
  label?: string;
  progress?: ProgressSink;
  cache?: Cache;
  /** keep every epoch's weights in the cache (`epochSnapshot`) when the model is trained here */
  keepEpochs?: boolean;
}

/** Largest batch a ResNet trains with inside wasm32's 4 GiB heap (batch 64 peaks at 2.2 GiB). */
const WASM_RESNET_MAX_BATCH = 64;

/**
 * Why training `arch` at `batchSize` cannot fit the active backend, or null. The native backend
 * is the wasm backend with oneDNN kernels over its memory, so both keep every tensor in wasm32's
 * 4 GiB heap. Loading a trained model needs no such room, so only training is refused.
 */
export function trainingMemoryProblem(
  arch: ModelConfig['arch'],
  batchSize: number,
  smallerBatch: (max: number) => string = (max) => `--batch-size ${max}`,
): string | null {
  if (tf.getBackend() !== 'wasm' || arch === 'smallcnn' || arch === 'mnist-net' || batchSize <= WASM_RESNET_MAX_BATCH) return null;
  return (
    `${arch} at batch ${batchSize} does not fit the ${activeBackend()} backend, whose tensors live in wasm32's 4 GiB heap; ` +
    `use ${smallerBatch(WASM_RESNET_MAX_BATCH)} or a GPU backend (webgpu on a GPU, node-gpu) or tfjs-node`
  );
}

/**
 * The model for `job.spec`, from the cache when it was trained before; otherwise trained (resuming
 * from the run's last per-epoch checkpoint if one exists), evaluated and stored.
 */
export async function trainOrLoad(job: TrainJob): Promise<TrainedModel> {
  const cache = job.cache ?? new Cache();
  const key = { kind: 'trained-model', spec: job.spec, seed: job.seed };
  const model = createModel(job.modelConfig, `${String(job.seed)}/init`);
  try {
    const cached = async () => {
      const entry = cache.get('models', key);
      if (entry && job.keepEpochs) {
        const missing = Array.from({ length: job.profile.train.epochs }, (_, e) => e + 1).filter(
          (e) => !cache.get('epoch-snapshots', snapshotKey(configKey(key), e)),
        );
        if (missing.length > 0)
          throw new Error(
            `${job.label ?? 'the model'} is cached (${entry.dir}) without the weights of epoch(s) ${missing.join(', ')}: it was trained without keeping them; ` +
              'train it again into another cache folder (PBE_CACHE_DIR) to keep every epoch',
          );
      }
      return entry ? { model, record: await loadEntry<TrainRecord>(entry, model), fromCache: true } : null;
    };
    return (
      (await cached()) ??
      (await inRun(cache, key, job.label ?? 'a model', cached, async (runDir) => {
        const memory = trainingMemoryProblem(job.modelConfig.arch, job.profile.train.batchSize);
        if (memory) throw new Error(memory);
        const result = await train(model, job.trainSet, job.profile.train, {
          seed: job.seed,
          checkpointDir: runDir,
          progress: job.progress,
          label: job.label,
          evaluate: job.evaluate ?? (async (m) => ({ testAcc: await accuracy(m, job.testSet) })),
          ...(job.prepareBatch ? { prepareBatch: job.prepareBatch, hooksKey: job.spec } : {}),
          ...(job.keepEpochs ? { afterEpoch: (m: Model, epoch: number) => storeEpochSnapshot(cache, configKey(key), epoch, m) } : {}),
        });
        const record: TrainRecord = {
          key: configKey(key),
          spec: job.spec,
          seed: job.seed,
          history: result.history,
          cleanAccuracy: await accuracy(model, job.testSet),
          trainSeconds: result.history.reduce((sum, h) => sum + h.seconds, 0),
          runtime: runtimeInfo(),
        };
        await storeEntry(cache, key, model, record);
        return { model, record, fromCache: false };
      }))
    );
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The weights of a model after one epoch, kept by a run with `keepEpochs`; `modelKey` is its record's key. */
const snapshotKey = (modelKey: string, epoch: number) => ({ kind: 'epoch-snapshot', model: modelKey, epoch });

async function storeEpochSnapshot(cache: Cache, modelKey: string, epoch: number, model: Model): Promise<void> {
  await cache.put(
    'epoch-snapshots',
    snapshotKey(modelKey, epoch),
    {},
    { meta: { arch: model.config.arch, epoch }, keepExisting: true, fill: (staging) => saveTensors(staging, model.namedWeights(), { key: modelKey }) },
  );
}

/** Loads the weights after `epoch` of the model whose record key is `modelKey` into `model`; false when that run kept none. */
export async function epochSnapshot(cache: Cache, modelKey: string, epoch: number, model: Model): Promise<boolean> {
  const entry = cache.get('epoch-snapshots', snapshotKey(modelKey, epoch));
  if (!entry) return false;
  await loadWeightsInto(entry.dir, model);
  return true;
}

/** Copies a cached model's weights into `model` and returns its record. */
async function loadEntry<R>(entry: CacheEntry, model: Model): Promise<R> {
  await loadWeightsInto(entry.dir, model);
  return JSON.parse(entry.read('record.json').toString()) as R;
}

async function storeEntry(cache: Cache, key: object, model: Model, record: { key: string }): Promise<void> {
  await cache.put(
    'models',
    key,
    { 'record.json': JSON.stringify(record, null, 2) },
    {
      meta: { arch: model.config.arch },
      keepExisting: true,
      fill: (staging) => saveTensors(staging, model.namedWeights(), { key: record.key }),
    },
  );
}

/**
 * Runs `work` holding the run folder of `key` (its per-epoch checkpoints), or returns what
 * `cached` finds once the claim is had: another process may have finished it while this one
 * waited. The folder is removed once the result is finished (and so stored).
 */
async function inRun<T>(
  cache: Cache,
  key: object,
  what: string,
  cached: () => Promise<T | null>,
  work: (runDir: string) => Promise<T>,
  finished: (out: T) => boolean = () => true,
): Promise<T> {
  const runDir = path.join(cache.root, 'runs', configKey(key));
  const run = await claimRun(runDir, { what });
  try {
    const done = await cached();
    if (done) return done;
    const out = await work(runDir);
    if (finished(out)) fs.rmSync(runDir, { recursive: true, force: true });
    return out;
  } finally {
    run.release();
  }
}

/** What a cached fine-tune records beside its weights. */
export interface FineTuneRecord {
  key: string;
  spec: unknown;
  /** weightsHash of the model it started from */
  from: string;
  seed: Seed;
  history: EpochRecord[];
  trainSeconds: number;
  runtime: ReturnType<typeof runtimeInfo>;
}

/** The hooks a fine-tune may use; `spec` must identify what they do. */
export type FineTuneHooks = Pick<TrainOptions, 'loss' | 'prepareBatch' | 'trainable' | 'afterStep' | 'summarizeEpoch' | 'evaluate'>;

export interface FineTuneJob {
  /** the starting weights; left unchanged, the result is a new model */
  from: Model;
  /** identifies the fine-tune besides its starting weights, data, schedule and seed: purpose, hook settings */
  spec: Record<string, unknown>;
  trainSet: ImageSet;
  train: TrainConfig;
  seed: Seed;
  hooks?: FineTuneHooks;
  label?: string;
  progress?: ProgressSink;
  cache?: Cache;
  /** stop after a finished epoch, as an interruption would: nothing is stored, the checkpoint stays */
  shouldStop?: (finishedEpochs: number) => boolean;
}

export interface FineTuned {
  model: Model;
  record: FineTuneRecord;
  fromCache: boolean;
  /** false when `shouldStop` ended the run early (the model is then the last finished epoch's) */
  complete: boolean;
}

/**
 * A fine-tune of `job.from` on `job.trainSet`, from the cache when it was done before, keyed by
 * the starting weights' hash as well as the data, schedule, spec and seed; otherwise trained
 * (resuming at its last finished epoch) and stored. The caller owns the returned model.
 */
export async function fineTuneOrLoad(job: FineTuneJob): Promise<FineTuned> {
  const cache = job.cache ?? new Cache();
  const from = weightsHash(job.from);
  const key = { kind: 'fine-tuned-model', spec: job.spec, from, data: dataHash(job.trainSet), train: job.train, seed: job.seed };
  const model = job.from.clone();
  try {
    const cached = async () => {
      const entry = cache.get('models', key);
      return entry ? { model, record: await loadEntry<FineTuneRecord>(entry, model), fromCache: true, complete: true } : null;
    };
    return (
      (await cached()) ??
      (await inRun(
        cache,
        key,
        job.label ?? 'a fine-tune',
        cached,
        async (runDir) => {
          const memory = trainingMemoryProblem(job.from.config.arch, job.train.batchSize, (max) => `a fine-tuning batch of at most ${max}`);
          if (memory) throw new Error(`${job.label ?? 'fine-tune'}: ${memory}`);
          const result = await train(model, job.trainSet, job.train, {
            ...job.hooks,
            hooksKey: job.spec,
            seed: job.seed,
            checkpointDir: runDir,
            progress: job.progress,
            label: job.label,
            shouldStop: job.shouldStop,
          });
          const record: FineTuneRecord = {
            key: configKey(key),
            spec: job.spec,
            from,
            seed: job.seed,
            history: result.history,
            trainSeconds: result.history.reduce((sum, h) => sum + h.seconds, 0),
            runtime: runtimeInfo(),
          };
          if (result.complete) await storeEntry(cache, key, model, record);
          return { model, record, fromCache: false, complete: result.complete };
        },
        (out) => out.complete,
      ))
    );
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Loads a dataset and the profile's subset of it (unless `splits` are given), then trains (or loads) the benign model. */
export async function trainBenign(
  profile: ResolvedProfile,
  opts: { seed: Seed; data?: LoadOptions; progress?: ProgressSink; cache?: Cache; splits?: DatasetSplits; keepEpochs?: boolean },
): Promise<TrainedModel & { data: DatasetSplits }> {
  const data = opts.splits ?? profileData(await loadDataset(profile.dataset, { ...opts.data, cache: opts.cache ?? opts.data?.cache }), profile);
  const modelConfig = modelConfigFor(profile, data.train);
  const trained = await trainOrLoad({
    spec: { purpose: 'benign', dataset: profile.dataset, source: data.train.source, profile, modelConfig },
    modelConfig,
    trainSet: data.train,
    testSet: data.test,
    profile,
    seed: opts.seed,
    label: `benign ${profile.arch} on ${profile.dataset}`,
    progress: opts.progress,
    cache: opts.cache,
    keepEpochs: opts.keepEpochs,
  });
  return { ...trained, data };
}
