import type { Model } from '../models/model';
import { fineTuneOrLoad } from '../train/run';
import type { FineTuningSchedule } from './baseline-schedules';
import { type BaselineRun, type FineTuneLog, requireClean } from './baseline-run';

/** Fine-tuning: the infected model trained further on the clean extra data alone. */
export async function fineTuning(run: BaselineRun, s: FineTuningSchedule): Promise<{ model: Model; log: FineTuneLog }> {
  const clean = requireClean(run, 'fine-tuning');
  const r = await fineTuneOrLoad({
    from: run.infected,
    spec: { defense: 'fine-tuning' },
    trainSet: clean,
    train: s.train,
    seed: `${String(run.seed)}/fine-tuning`,
    label: 'fine-tuning',
    progress: run.progress,
    cache: run.cache,
  });
  return { model: r.model, log: { history: r.record.history, fromCache: r.fromCache } };
}
