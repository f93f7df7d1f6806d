import { initBackend, runtimeInfo, runtimeSummary } from '../../backend';
import { runBench } from '../../bench/bench';
import { MODEL_ARCHS } from '../../models/model';
import { defineCommand } from '../command';
import { COMMON_OPTIONS, opt } from '../options';

export const bench = defineCommand({
  name: 'bench',
  summary: 'images/s and GFLOP/s of training, PGD and inference on the active backend',
  options: {
    ...COMMON_OPTIONS,
    model: opt.choice('one architecture (default: smallcnn and preact-resnet18)', MODEL_ARCHS, { arg: 'arch' }),
    reps: opt.int('timed repetitions per task', { min: 1 }),
  },
  async run(o) {
    await initBackend(o.backend);
    const info = runtimeInfo();
    console.error(`${runtimeSummary()}, ${info.machine.memoryGiB} GiB`);
    const report = runBench({
      archs: o.model === undefined ? undefined : [o.model],
      reps: o.reps,
      log: (r) =>
        console.error(
          `${r.model.padEnd(16)} ${r.task.padEnd(11)} batch ${String(r.batch).padStart(3)}  ${r.secondsPerBatch.toFixed(3)} s/batch  ` +
            `${r.imagesPerSecond.toFixed(1).padStart(7)} img/s  ${r.gflopPerSecond.toFixed(1).padStart(5)} GFLOP/s${r.note ? `  (${r.note})` : ''}`,
        ),
    });
    console.log(JSON.stringify(report, null, 2));
    return 0;
  },
});
