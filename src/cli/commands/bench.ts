import { initBackend, parseBackendName, runtimeInfo, runtimeSummary } from '../../backend';
import { runBenchAll } from '../../bench/bench';
import { profileSteps } from '../../bench/profile';
import { MODEL_ARCHS } from '../../models/registry';
import { defineCommand } from '../command';
import { COMMON_OPTIONS, opt } from '../options';

export const bench = defineCommand({
  name: 'bench',
  summary: 'images/s and GFLOP/s of training, PGD and inference on every backend that loads',
  options: {
    ...COMMON_OPTIONS,
    model: opt.choice('one architecture (default: smallcnn and preact-resnet18)', MODEL_ARCHS, { arg: 'arch' }),
    reps: opt.int('timed repetitions per task', { min: 1 }),
    batchSize: opt.int('one batch size for every task (default: 128 for training and PGD-7, 256 for inference); small for a slow device such as SwiftShader', {
      min: 1,
    }),
    threads: opt.intList('native backend thread counts to measure (e.g. 1,2)', { min: 1 }),
    profile: opt.flag("each kernel's share of a training step and a PGD-7 batch, on one backend"),
  },
  async run(o) {
    const backend = o.backend ?? process.env.PBE_BACKEND;
    if (o.profile) {
      // One backend (the fastest, or the one asked for): its kernels' shares of a step.
      await initBackend(backend);
      const arch = o.model ?? 'smallcnn';
      const profiles = await profileSteps(arch, o.batchSize ?? (arch === 'smallcnn' ? 128 : 64));
      console.error(runtimeSummary());
      for (const pr of profiles) {
        console.error(`${pr.model} ${pr.task}, batch ${pr.batch}: ${pr.wallMs.toFixed(0)} ms`);
        for (const k of pr.kernels.slice(0, 12))
          console.error(`  ${k.kernel.padEnd(26)} ${k.ms.toFixed(1).padStart(9)} ms  ${(100 * k.share).toFixed(1).padStart(5)}%`);
      }
      console.log(JSON.stringify({ runtime: runtimeInfo(), profiles }, null, 2));
      return 0;
    }
    const report = await runBenchAll({
      archs: o.model === undefined ? undefined : [o.model],
      reps: o.reps,
      batch: o.batchSize,
      backends: backend ? [parseBackendName(backend, '--backend')] : undefined,
      nativeThreads: o.threads,
      skipped: (b, why) => console.error(`${b}: not measured (${why})`),
      log: (r) =>
        console.error(
          `${`${r.backend}×${r.threads}`.padEnd(10)} ${r.model.padEnd(16)} ${r.task.padEnd(11)} batch ${String(r.batch).padStart(3)}  ${r.secondsPerBatch.toFixed(3)} s/batch  ` +
            `${r.imagesPerSecond.toFixed(1).padStart(7)} img/s  ${r.gflopPerSecond.toFixed(1).padStart(5)} GFLOP/s${r.note ? `  (${r.note})` : ''}`,
        ),
    });
    const info = report.runtime;
    console.error(`${runtimeSummary()}, ${info.machine.memoryGiB} GiB`);
    console.log(JSON.stringify(report, null, 2));
    return 0;
  },
});
