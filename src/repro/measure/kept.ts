import type { AttackRequest } from '../../attacks/backdoor/attack';
import { attackIdentity } from '../../attacks/backdoor/registry';
import type { Cache, CacheEntry, EntryContents } from '../../cache';
import { datasetLocation } from '../../data/registry';
import { cachedExperiment, experimentContext } from '../../experiments/output';
import type { ReproSettings } from '../settings';

/** A notebook's measurement on the scale's models, as `keptMeasurement` keeps it. */
export interface KeptMeasurement<R> {
  /** the cache's folder for it ('budget-sweeps') */
  folder: string;
  /** the key's kind ('budget-sweep') */
  kind: string;
  /** what the result depends on beyond the models and the data's location (the PGD budget, the sweep) */
  depends: Record<string, unknown>;
  /** the measurement in words, for the message while another process computes it */
  what: string;
  restore(entry: CacheEntry): R;
  /** the result, and the files that `restore` reads it back from */
  compute(cache: Cache): Promise<{ result: R; contents: EntryContents }>;
}

/**
 * Reads a notebook's measurement from the cache, or computes and keeps it, so a later sitting of
 * the suite reads it instead of loading the models and computing it again. The key names the
 * training profile, the attack's identity, the seed and the data's location, with `depends`.
 */
export async function keptMeasurement<R>(
  s: ReproSettings,
  seed: number,
  request: AttackRequest,
  m: KeptMeasurement<R>,
  opts: { cache?: Cache } = {},
): Promise<R> {
  const { cache } = experimentContext(opts);
  return cachedExperiment(cache, {
    kind: m.folder,
    key: { kind: m.kind, training: s.training, attack: attackIdentity(request), seed, ...m.depends, dataPath: datasetLocation(s.dataset) },
    what: m.what,
    restore: (entry) => m.restore(entry),
    compute: async (store) => {
      const { result, contents } = await m.compute(cache);
      await store({ contents, meta: { experiment: m.kind, attack: request.name } });
      return result;
    },
  });
}
