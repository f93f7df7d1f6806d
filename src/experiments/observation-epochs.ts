import { runtimeInfo } from '../backend';
import type { PgdConfig } from '../attacks/adversarial/pgd';
import type { AttackRequest, InfectedModel } from '../attacks/backdoor/attack';
import { trainInfected } from '../attacks/backdoor/run';
import { attackIdentity } from '../attacks/backdoor/registry';
import { adversarialLabelDistribution, type EpochObservation, epochCurveSpec } from '../analysis';
import { configKey } from '../cache';
import { datasetLocation, loadDataset } from '../data/registry';
import { Rng } from '../rng';
import type { ResolvedProfile } from '../train/profiles';
import { epochSnapshot, profileData, trainBenign } from '../train/run';
import { analysisImages } from './observe';
import {
  cachedExperiment,
  experimentContext,
  type ExperimentOptions,
  type KeptResult,
  type FigureSpecs,
  type ReportHeader,
  restoreResult,
  resultOutput,
  storedResult,
} from './output';

export interface ObservationEpochsConfig {
  profile: ResolvedProfile;
  /** one all-to-one attack; its target is the label whose share is followed */
  attack: AttackRequest;
  seed: number;
  pgd: PgdConfig;
  /** clean test images measured at every epoch (observe's images) */
  images: number;
  dataPath?: string;
}

export interface ObservationEpochsReport extends ReportHeader<ObservationEpochsConfig> {
  target: number;
  epochs: EpochObservation[];
  /** seconds of PGD over both models and every epoch */
  seconds: number;
  figures: Record<string, string>;
}

export type ObservationEpochsResult = ObservationEpochsReport & { specs: FigureSpecs; fromCache: boolean; reportFile: string };

/**
 * Question 7 of the fidelity review: does the observation fade as the model converges? Trains the
 * benign and the infected model keeping every epoch's weights (or finds them so kept in the cache),
 * then measures both models' share of adversarial examples on the target after each epoch, on the
 * same images with the same PGD. A model cached without its epochs is an error, not a retraining.
 */
export async function observationOverEpochs(cfg: ObservationEpochsConfig, opts: ExperimentOptions = {}): Promise<ObservationEpochsResult> {
  if (cfg.attack.mode !== 'all2one')
    throw new Error(`observationOverEpochs: attack.mode: expected 'all2one' (a target label to follow), got '${cfg.attack.mode}'`);
  const { cache, progress } = experimentContext(opts);
  const attack = attackIdentity(cfg.attack);
  const identity = { ...cfg, attack, dataPath: datasetLocation(cfg.profile.dataset, cfg.dataPath) };
  const key = { kind: 'observation-epochs', cfg: identity };
  const out = resultOutput(cache, { key, folder: 'observation-epochs', name: `${cfg.profile.dataset}-${cfg.attack.name}` });
  return cachedExperiment(cache, {
    kind: 'observations',
    key,
    what: `the observation over epochs of ${cfg.attack.name} on ${cfg.profile.dataset}`,
    restore: async (entry) => {
      const { report, specs } = await restoreResult<ObservationEpochsReport>(entry, out);
      return { ...out.writeReport(report), specs, fromCache: true, reportFile: out.reportFile };
    },
    compute: measure,
  });

  async function measure(store: (kept: KeptResult) => Promise<void>): Promise<ObservationEpochsResult> {
    const full = await loadDataset(cfg.profile.dataset, { path: cfg.dataPath, cache });
    const splits = profileData(full, cfg.profile);
    const benign = await trainBenign(cfg.profile, { seed: cfg.seed, cache, splits, progress, keepEpochs: true });
    let infected: InfectedModel | null = null;
    try {
      infected = await trainInfected(cfg.profile, attack, { seed: cfg.seed, cache, splits, progress, keepEpochs: true });
      const target = infected.attack.rule.target;
      const images = analysisImages(full, splits, cfg.images);
      const rng = new Rng(cfg.seed).fork('observation-epochs');
      const share = (m: typeof benign.model, which: string) =>
        adversarialLabelDistribution(m, images, cfg.pgd, { batchSize: 128, rng: rng.fork(which), progress }).overall[target] / images.shape[0];
      // Each epoch's measurement is kept as it finishes, so an interrupted run resumes at the first
      // epoch not yet measured (a ResNet's PGD over all its epochs is long: docs/measurements.md, question 8).
      const epochKey = (epoch: number) => ({ kind: 'observation-epoch', observation: configKey(key), epoch });
      const epochs: EpochObservation[] = [];
      let seconds = 0;
      for (let epoch = 1; epoch <= cfg.profile.train.epochs; epoch++) {
        const kept = cache.get('observations', epochKey(epoch));
        if (kept) {
          const measured = JSON.parse(kept.read('epoch.json').toString()) as { observation: EpochObservation; seconds: number };
          epochs.push(measured.observation);
          seconds += measured.seconds;
          continue;
        }
        const t0 = Date.now();
        for (const [m, record] of [
          [benign.model, benign.record],
          [infected.model, infected.record],
        ] as const)
          if (!(await epochSnapshot(cache, record.key, epoch, m)))
            throw new Error(`observationOverEpochs: the weights after epoch ${epoch} of ${record.key} are missing`);
        const i = infected.record.history[epoch - 1];
        const observation: EpochObservation = {
          epoch,
          infectedTargetShare: share(infected.model, 'infected'),
          benignTargetShare: share(benign.model, 'benign'),
          infectedAcc: i?.testAcc ?? null,
          infectedAsr: i?.asr ?? null,
          benignAcc: benign.record.history[epoch - 1]?.testAcc ?? null,
        };
        const took = (Date.now() - t0) / 1000;
        await cache.put(
          'observations',
          epochKey(epoch),
          { 'epoch.json': JSON.stringify({ observation, seconds: took }) },
          { meta: { epoch }, keepExisting: true },
        );
        epochs.push(observation);
        seconds += took;
      }
      const specs: FigureSpecs = {
        'target-share-over-epochs': epochCurveSpec(
          epochs,
          `${cfg.attack.name} → ${target} on ${cfg.profile.dataset} (${cfg.profile.arch}): the observation over training`,
        ),
      };
      const report: ObservationEpochsReport = {
        config: identity,
        key: out.key,
        runtime: runtimeInfo(),
        target,
        epochs,
        seconds,
        figures: await out.writeFigures(specs),
      };
      await store({ contents: storedResult(report, specs), meta: { experiment: 'observation-epochs', attack: cfg.attack.name } });
      return { ...out.writeReport(report), specs, fromCache: false, reportFile: out.reportFile };
    } finally {
      benign.model.dispose();
      infected?.model.dispose();
      infected?.attack.trigger.dispose();
    }
  }
}
