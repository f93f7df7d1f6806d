import type { Model } from '../models/model';
import { consoleSink, Progress } from '../progress';
import { fineTuneOrLoad } from '../train/run';
import { accuracy } from '../train/trainer';
import type { FinePruningSchedule } from './baseline-schedules';
import { type BaselineRun, type FineTuneLog, requireClean } from './baseline-run';
import { applyChannelMask, keepMask, lastConvTargets, meanChannelActivation, type PruneTarget, pruningOrder } from './channel-pruning';

export interface FinePruningLog {
  /** the activation whose channels were ranked (the last convolutional layer's) */
  activation: string;
  targets: PruneTarget[];
  /** mean activation of each channel on the clean extra set, before pruning */
  meanActivation: number[];
  /** clean extra-set accuracy after pruning the k least active channels, k = 0, 1, … */
  curve: { pruned: number; acc: number }[];
  /** the channels pruned, least active first */
  pruned: number[];
  fineTune: FineTuneLog;
}

/**
 * Fine-Pruning (Liu et al., RAID 2018): the last convolutional layer's channels are pruned, least
 * active on clean data first, while clean accuracy on the extra set stays within `maxAccDrop` of
 * the unpruned model's (and at most `maxPruneRatio` of them, never all); then the pruned model is
 * fine-tuned on the same data with the pruned channels held at zero after every step.
 */
export async function finePruning(run: BaselineRun, s: FinePruningSchedule): Promise<{ model: Model; log: FinePruningLog }> {
  const clean = requireClean(run, 'fine-pruning');
  if (!(s.maxAccDrop >= 0 && s.maxAccDrop <= 1)) throw new Error(`fine-pruning maxAccDrop: expected a number in [0, 1], got ${s.maxAccDrop}`);
  if (!(s.maxPruneRatio > 0 && s.maxPruneRatio <= 1)) throw new Error(`fine-pruning maxPruneRatio: expected a number in (0, 1], got ${s.maxPruneRatio}`);
  const { infected } = run;
  const targets = lastConvTargets(infected);
  const activation = infected.lastConv.activation;
  const mean = meanChannelActivation(infected, clean, activation);
  const order = pruningOrder(mean);
  const channels = order.length;
  const limit = Math.min(channels - 1, Math.floor(s.maxPruneRatio * channels));
  const baseAcc = accuracy(infected, clean);
  const curve = [{ pruned: 0, acc: baseAcc }];
  let count = 0;
  const probe = infected.clone();
  try {
    const bar = new Progress('fine-pruning: pruning', limit, run.progress ?? consoleSink(), 'channel');
    for (let k = 1; k <= limit; k++) {
      applyChannelMask(probe, targets, keepMask(channels, order.subarray(0, k)));
      const acc = accuracy(probe, clean);
      curve.push({ pruned: k, acc });
      bar.tick(1, `${k} pruned, clean acc ${(100 * acc).toFixed(1)}%`);
      if (baseAcc - acc > s.maxAccDrop) break;
      count = k;
    }
  } finally {
    probe.dispose();
  }
  const pruned = Array.from(order.subarray(0, count));
  const keep = keepMask(channels, pruned);
  const start = infected.clone();
  try {
    applyChannelMask(start, targets, keep);
    const r = await fineTuneOrLoad({
      from: start,
      spec: { defense: 'fine-pruning', targets, pruned },
      trainSet: clean,
      train: s.train,
      seed: `${String(run.seed)}/fine-pruning`,
      hooks: { afterStep: (m) => applyChannelMask(m, targets, keep) },
      label: `fine-pruning: fine-tune (${count}/${channels} pruned)`,
      progress: run.progress,
      cache: run.cache,
    });
    return {
      model: r.model,
      log: { activation, targets, meanActivation: Array.from(mean), curve, pruned, fineTune: { history: r.record.history, fromCache: r.fromCache } },
    };
  } finally {
    start.dispose();
  }
}
