import { Progress } from '../progress';
import { accuracy } from '../train/trainer';
import type { DefenseDefinition } from './defense';
import {
  checkFineTune,
  cosineFineTune,
  FINE_TUNE_DEFAULTS,
  FINE_TUNE_PROVENANCE,
  type FineTuneLog,
  type FineTuneOptions,
  fineTuneStep,
  requireClean,
} from './baseline-run';
import { applyChannelMask, keepMask, lastConvTargets, meanChannelActivation, type PruneTarget, pruningOrder } from './channel-pruning';

export type FinePruningOptions = FineTuneOptions & {
  /** stop pruning before clean accuracy on the extra set falls by more than this (absolute, 0–1) */
  maxAccDrop: number;
  /** never prune more than this share of the channels */
  maxPruneRatio: number;
};

export interface FinePruningLog {
  /** the activation whose channels were ranked (the last convolutional layer's) */
  activation: string;
  targets: PruneTarget[];
  /** mean activation of each channel on the clean extra set, before pruning */
  meanActivation: number[];
  /** clean extra-set accuracy after pruning the k least active channels, k = 0, 1, … up to the first past the limit */
  curve: { pruned: number; acc: number }[];
  /** the channels pruned, least active first */
  pruned: number[];
  fineTune: FineTuneLog;
}

/**
 * Fine-Pruning (Liu, Dolan-Gavitt & Garg, RAID 2018): the last convolutional layer's channels are
 * pruned, least active on clean data first, while clean accuracy on the extra set stays within
 * `maxAccDrop` of the unpruned model's (at most `maxPruneRatio` of them, never all); then the
 * pruned model is fine-tuned on the same data with the pruned channels held at zero after every
 * optimiser step.
 */
export const FINE_PRUNING: DefenseDefinition<FinePruningOptions, FinePruningLog> = {
  description: 'fine-pruning: prune the dormant channels of the last convolution, then fine-tune',
  data: 'clean',
  gradientBatches: ['batchSize'],
  defaults: { ...FINE_TUNE_DEFAULTS, maxAccDrop: 0.04, maxPruneRatio: 1 },
  provenance: {
    ...FINE_TUNE_PROVENANCE,
    maxAccDrop: 'Fine-Pruning (Liu et al. 2018): pruning stops once validation accuracy has dropped by 4% (BackdoorBench uses a 10% relative tolerance)',
    maxPruneRatio: 'no cap besides the accuracy drop (our reading of the paper; the option allows the "set ratio" variant)',
  },
  schedules: {
    cpu: {
      options: { epochs: 20 },
      provenance:
        'the fine-tuning stage as for ft on cpu: on BadNets more epochs erase no more and cost accuracy (docs/measurements.md, "The baselines against their budgets")',
    },
    smoke: { options: { epochs: 3, batchSize: 50 }, provenance: 'seconds, for the tests' },
  },
  validate(o) {
    checkFineTune(o, 'fp');
    if (!(o.maxAccDrop >= 0 && o.maxAccDrop <= 1)) throw new Error(`fp.maxAccDrop: expected a number in [0, 1], got ${o.maxAccDrop}`);
    if (!(o.maxPruneRatio > 0 && o.maxPruneRatio <= 1)) throw new Error(`fp.maxPruneRatio: expected a number in (0, 1], got ${o.maxPruneRatio}`);
  },
  async run(ctx) {
    const clean = requireClean(ctx, 'fine-pruning');
    const o = ctx.options;
    const infected = ctx.model;
    const started = Date.now();
    const targets = lastConvTargets(infected);
    const activation = infected.lastConv.activation;
    const mean = meanChannelActivation(infected, clean, activation);
    const order = pruningOrder(mean);
    const channels = order.length;
    const limit = Math.min(channels - 1, Math.floor(o.maxPruneRatio * channels));
    const baseAcc = await accuracy(infected, clean);
    const curve = [{ pruned: 0, acc: baseAcc }];
    let count = 0;
    const pruned = infected.clone();
    try {
      const bar = new Progress('fp: pruning', limit, ctx.progress, 'channel');
      for (let k = 1; k <= limit; k++) {
        applyChannelMask(pruned, targets, keepMask(channels, order.subarray(0, k)));
        const acc = await accuracy(pruned, clean);
        curve.push({ pruned: k, acc });
        bar.tick(1, `${k} pruned, clean acc ${(100 * acc).toFixed(1)}%`);
        if (baseAcc - acc > o.maxAccDrop) break;
        count = k;
      }
      const prunedChannels = Array.from(order.subarray(0, count));
      const keep = keepMask(channels, prunedChannels);
      // Undo the channel that went past the limit: start again from the infected weights.
      pruned.loadWeights(Object.fromEntries(infected.namedWeights().map(({ name, tensor }) => [name, tensor])));
      applyChannelMask(pruned, targets, keep);
      const pruneSeconds = (Date.now() - started) / 1000;
      await ctx.measure('pruned', pruned);
      const r = await fineTuneStep(ctx, {
        defense: 'fp',
        stage: 'fine-tune',
        from: pruned,
        spec: { targets, pruned: prunedChannels },
        trainSet: clean,
        train: cosineFineTune(o, ctx.augment),
        hooks: { afterStep: (m) => applyChannelMask(m, targets, keep) },
      });
      const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
      return {
        model: r.model,
        log: [
          {
            stage: 'pruning',
            message: `${count}/${channels} channels of ${activation} pruned; clean extra-set accuracy ${pct(baseAcc)} → ${pct(curve[count].acc)}`,
            seconds: pruneSeconds,
          },
          { stage: 'fine-tune', message: `${o.epochs} epochs, pruned channels held at zero${r.fromCache ? ' (cached)' : ''}`, seconds: r.log.seconds },
        ],
        intermediate: { activation, targets, meanActivation: Array.from(mean), curve, pruned: prunedChannels, fineTune: r.log },
      };
    } finally {
      pruned.dispose();
    }
  },
};
