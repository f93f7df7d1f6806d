import * as fs from 'node:fs';
import * as path from 'node:path';
import { runtimeInfo } from '../../../backend';
import { Cache, configKey } from '../../../cache';
import { loadWeightsInto, saveTensors } from '../../../io/checkpoint';
import { claimRun } from '../../../io/run-lock';
import { createModel } from '../../../models/registry';
import { modelConfigFor, type TrainRecord } from '../../../train/run';
import { accuracy } from '../../../train/trainer';
import type { AttackDefinition, InfectedModel, InfectedTrainingContext } from '../attack';
import { evaluateBackdoor, triggeredTestSet } from '../poison';
import type { BackdoorAttack } from '../trigger';
import { dynamicConfigFor } from './config';
import { trainDynamicAttack } from './training';
import { type DynamicTrigger, loadDynamic, saveDynamic } from './trigger';

/**
 * Trains (or loads) a classifier infected by the input-aware dynamic attack. Its generators are
 * a cache entry of their own ('dynamic-triggers'), written before the classifier's, so a model
 * entry is only ever found with its trigger beside it.
 */
export async function trainDynamicInfected(ctx: InfectedTrainingContext): Promise<InfectedModel> {
  const { profile, request, data, ...opts } = ctx;
  const cache = opts.cache ?? new Cache();
  const [, h, w, c] = data.train.shape;
  const rule = { mode: request.mode, target: request.target, numClasses: data.train.classNames.length };
  const dynamic = dynamicConfigFor(profile);
  const attackSeed = `${opts.seed}/attack`;
  const config = { name: 'dynamic', rule, inputShape: [h, w, c] as [number, number, number], seed: attackSeed, options: dynamic };
  const modelConfig = modelConfigFor(profile, data.train);
  const key = {
    kind: 'trained-model',
    spec: { purpose: 'infected', attack: config, dataset: profile.dataset, source: data.train.source, profile, modelConfig },
    seed: opts.seed,
  };
  const model = createModel(modelConfig, `${opts.seed}/init`);
  let trigger: DynamicTrigger | null = null;
  try {
    const load = async (): Promise<TrainRecord | null> => {
      const modelEntry = cache.get('models', key);
      const triggerEntry = modelEntry ? cache.get('dynamic-triggers', key) : null;
      if (!(modelEntry && triggerEntry)) return null;
      await loadWeightsInto(modelEntry.dir, model);
      trigger = await loadDynamic(triggerEntry.dir);
      return JSON.parse(modelEntry.read('record.json').toString()) as TrainRecord;
    };
    let record = await load();
    let fromCache = record !== null;
    if (record === null) {
      const runDir = path.join(cache.root, 'runs', configKey(key));
      const run = await claimRun(runDir, { what: `the dynamic attack's model on ${profile.dataset}` });
      try {
        // Another process may have trained it while this one waited.
        record = await load();
        fromCache = record !== null;
        if (record === null) {
          const result = await trainDynamicAttack({
            classifier: model,
            train: data.train,
            test: data.test,
            rule,
            config: dynamic,
            seed: attackSeed,
            progress: opts.progress,
            checkpointDir: runDir,
          });
          trigger = result.trigger;
          const joint = result.history.joint;
          const trained: TrainRecord = {
            key: configKey(key),
            spec: key.spec,
            seed: opts.seed,
            // The per-epoch ASR is on the generator's float output; the final one on uint8-rounded images.
            history: joint.map((j) => ({
              epoch: j.epoch,
              loss: j.loss,
              trainAcc: j.cleanAcc,
              testAcc: j.test!.acc,
              asr: j.test!.asr,
              lr: j.lr,
              seconds: j.seconds,
            })),
            cleanAccuracy: await accuracy(model, data.test),
            trainSeconds: [...result.history.mask, ...joint].reduce((s, e) => s + e.seconds, 0),
            runtime: runtimeInfo(),
            details: { maskHistory: result.history.mask, jointHistory: joint },
          };
          const t = trigger;
          await cache.put('dynamic-triggers', key, {}, { keepExisting: true, fill: (staging) => saveDynamic(staging, t) });
          await cache.put(
            'models',
            key,
            { 'record.json': JSON.stringify(trained, null, 2) },
            {
              meta: { arch: modelConfig.arch },
              keepExisting: true,
              fill: (staging) => saveTensors(staging, model.namedWeights(), { key: trained.key }),
            },
          );
          fs.rmSync(runDir, { recursive: true, force: true });
          record = trained;
        }
      } finally {
        run.release();
      }
    }
    if (trigger === null) throw new Error('dynamic attack: no trigger after training or loading');
    const attack: BackdoorAttack = { name: 'dynamic', trigger, rule, config };
    const triggered = triggeredTestSet(data.test, attack);
    const { acc, asr, targetAcc } = await evaluateBackdoor(model, data.test, triggered, rule);
    return { model, record, fromCache, attack, data, poisoned: null, triggered, acc, asr, targetAcc };
  } catch (e) {
    model.dispose();
    trigger?.dispose();
    throw e;
  }
}

/**
 * The dynamic attack in the attack registry: no options (its schedule follows the profile, see
 * dynamicConfigFor) and its own training strategy, since its trigger is learnt with the classifier.
 */
export const dynamicAttack: AttackDefinition = { defaults: {}, provenance: {}, train: trainDynamicInfected };
