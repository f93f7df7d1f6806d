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

/**
 * Fine-tuning: the infected model trained further on the clean extra data alone. `cpu` and
 * `smoke` shorten the schedule (docs/cli.md, "pbe compare and the baseline defenses").
 */
export const FINE_TUNING: DefenseDefinition<FineTuneOptions, { fineTune: FineTuneLog }> = {
  description: 'fine-tuning on the clean extra data',
  data: 'clean',
  gradientBatches: ['batchSize'],
  defaults: FINE_TUNE_DEFAULTS,
  provenance: FINE_TUNE_PROVENANCE,
  schedules: {
    cpu: {
      options: { epochs: 20 },
      provenance:
        '20 epochs instead of the reference 100: on BadNets more epochs erase no more and cost accuracy (docs/measurements.md, "The baselines against their budgets")',
    },
    smoke: { options: { epochs: 3, batchSize: 50 }, provenance: 'seconds, for the tests' },
  },
  validate: (o) => checkFineTune(o, 'ft'),
  async run(ctx) {
    const clean = requireClean(ctx, 'fine-tuning');
    const r = await fineTuneStep(ctx, {
      defense: 'ft',
      stage: 'fine-tune',
      from: ctx.model,
      spec: {},
      trainSet: clean,
      train: cosineFineTune(ctx.options, ctx.augment),
    });
    const last = r.log.history.at(-1);
    return {
      model: r.model,
      log: [
        {
          stage: 'fine-tune',
          message: `${ctx.options.epochs} epochs on ${clean.shape[0]} clean images${r.fromCache ? ' (cached)' : ''}${last ? `, final loss ${last.loss.toFixed(3)}` : ''}`,
          seconds: r.log.seconds,
        },
      ],
      intermediate: { fineTune: r.log },
    };
  },
};
