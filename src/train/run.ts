import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { runtimeInfo } from '../backend';
import { Cache, configKey } from '../cache';
import { balancedIndices, type Dataset, type DatasetSplits, subset } from '../data/dataset';
import { loadDataset, type LoadOptions } from '../data/registry';
import { loadTensors, saveTensors } from '../io/checkpoint';
import { claimRun } from '../io/run-lock';
import { createModel, type Model, type ModelConfig } from '../models/model';
import type { ProgressSink } from '../progress';
import type { Seed } from '../rng';
import type { ResolvedProfile } from './profiles';
import { accuracy, type EpochMetrics, type EpochRecord, train } from './trainer';

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
  evaluate?: (model: Model) => EpochMetrics;
  profile: ResolvedProfile;
  seed: Seed;
  label?: string;
  progress?: ProgressSink;
  cache?: Cache;
}

/**
 * The model for `job.spec`, from the cache when it was trained before; otherwise trained (resuming
 * from the run's last per-epoch checkpoint if one exists), evaluated and stored.
 */
/** Largest batch a ResNet trains with inside wasm32's 4 GiB heap (batch 64 peaks at 2.2 GiB). */
const WASM_RESNET_MAX_BATCH = 64;

export async function trainOrLoad(job: TrainJob): Promise<TrainedModel> {
  const cache = job.cache ?? new Cache();
  const { arch } = job.modelConfig;
  if (tf.getBackend() === 'wasm' && arch !== 'smallcnn' && arch !== 'mnist-net' && job.profile.train.batchSize > WASM_RESNET_MAX_BATCH) {
    throw new Error(
      `${arch} at batch ${job.profile.train.batchSize} does not fit the wasm backend's 4 GiB heap; ` +
        `use --batch-size ${WASM_RESNET_MAX_BATCH} or a native backend (tfjs-node / tfjs-node-gpu)`,
    );
  }
  const key = { kind: 'trained-model', spec: job.spec, seed: job.seed };
  const entry = cache.get('models', key);
  const model = createModel(job.modelConfig, `${String(job.seed)}/init`);
  if (entry) {
    const { tensors } = await loadTensors(entry.dir);
    model.loadWeights(tensors);
    tf.dispose(Object.values(tensors));
    return { model, record: JSON.parse(entry.read('record.json').toString()) as TrainRecord, fromCache: true };
  }
  const runDir = path.join(cache.root, 'runs', configKey(key));
  let run: { release(): void } | null = null;
  try {
    run = claimRun(runDir);
    return await trainInto(job, cache, key, model, runDir);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    run?.release();
  }
}

async function trainInto(job: TrainJob, cache: Cache, key: object, model: Model, runDir: string): Promise<TrainedModel> {
  const result = await train(model, job.trainSet, job.profile.train, {
    seed: job.seed,
    checkpointDir: runDir,
    progress: job.progress,
    label: job.label,
    evaluate: job.evaluate ?? ((m) => ({ testAcc: accuracy(m, job.testSet) })),
  });
  const record: TrainRecord = {
    key: configKey(key),
    spec: job.spec,
    seed: job.seed,
    history: result.history,
    cleanAccuracy: accuracy(model, job.testSet),
    trainSeconds: result.history.reduce((sum, h) => sum + h.seconds, 0),
    runtime: runtimeInfo(),
  };
  await cache.put('models', key, { 'record.json': JSON.stringify(record, null, 2) }, {
    meta: { arch: job.modelConfig.arch },
    keepExisting: true,
    fill: (staging) => saveTensors(staging, model.namedWeights(), { key: record.key }),
  });
  fs.rmSync(runDir, { recursive: true, force: true });
  return { model, record, fromCache: false };
}

/** Loads a dataset and the profile's subset of it (unless `splits` are given), then trains (or loads) the benign model. */
export async function trainBenign(
  profile: ResolvedProfile,
  opts: { seed: Seed; data?: LoadOptions; progress?: ProgressSink; cache?: Cache; splits?: DatasetSplits },
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
  });
  return { ...trained, data };
}
