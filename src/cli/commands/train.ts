import { initBackend, runtimeSummary } from '../../backend';
import { Cache } from '../../cache';
import { loadDataset } from '../../data/registry';
import { runJobs } from '../../jobs/pool';
import { poolProgressSink } from '../../progress';
import { type BenignSummary, trainBenignJobType } from '../../train/jobs';
import { trainBenign } from '../../train/run';
import { defineCommand } from '../command';
import { checkWritable, opt, profileFrom, RUN_OPTIONS } from '../options';

export const train = defineCommand({
  name: 'train',
  summary: "train the profile's benign model (or load it from the cache); several seeds go to the worker pool",
  options: { ...RUN_OPTIONS, seed: opt.intList('seed(s), comma-separated (default: 0)', { min: 0, arg: 'S[,S…]' }) },
  async run(o) {
    const profile = profileFrom(o);
    const { dataset } = profile;
    const seeds = o.seed ?? [0];
    const cache = new Cache();
    checkWritable([], cache.root);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    let results: BenignSummary[];
    if (seeds.length === 1) {
      const { model: trained, ...rest } = await trainBenign(profile, { seed: seeds[0], cache, data: { path: o.path } });
      trained.dispose();
      results = [rest];
    } else {
      // Load once here so the workers find the decoded dataset in the cache instead of racing to build it.
      await loadDataset(dataset, { path: o.path, cache });
      results = await runJobs(
        seeds.map((seed) => trainBenignJobType.job({ profile, seed, dataPath: o.path, cacheRoot: cache.root }, `seed ${seed}`)),
        { backend: o.backend, onProgress: poolProgressSink() },
      );
    }
    for (const { record, fromCache } of results) {
      const last = record.history[record.history.length - 1];
      console.log(
        `${profile.arch} on ${dataset} (profile ${profile.profile}, seed ${String(record.seed)})${fromCache ? ' [from cache]' : ''}: ` +
          `clean accuracy ${(100 * record.cleanAccuracy).toFixed(2)}%, ${record.history.length} epochs in ${record.trainSeconds.toFixed(0)} s` +
          (last ? `, final train loss ${last.loss.toFixed(3)}` : ''),
      );
    }
    return 0;
  },
});
