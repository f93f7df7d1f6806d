import * as path from 'node:path';
import { initBackend, runtimeSummary } from '../../backend';
import { Cache, writeFileAtomic } from '../../cache';
import { classCounts } from '../../data/dataset';
import { DATASET_NAMES, loadDataset } from '../../data/registry';
import { previewGrid } from '../../image/png';
import { defineCommand } from '../command';
import { checkWritable, COMMON_OPTIONS, oneOf, opt } from '../options';

export const data = defineCommand({
  name: 'data',
  summary: 'load a dataset: counts per class and a preview PNG',
  positionals: [{ name: 'dataset', help: DATASET_NAMES.join(', ') }],
  options: {
    ...COMMON_OPTIONS,
    path: opt.string("the dataset's location (see the README's data table)", 'P'),
    out: opt.string('preview PNG (default: previews/<dataset>.png in the cache)', 'file'),
  },
  async run(o, [dataset]) {
    const name = oneOf(dataset, DATASET_NAMES, 'dataset');
    const cache = new Cache();
    checkWritable([{ flag: '--out', path: o.out, kind: 'file' }], cache.root);
    await initBackend(o.backend);
    console.error(runtimeSummary());
    const splits = await loadDataset(name, { path: o.path, cache });
    for (const ds of [splits.train, splits.test]) {
      const [n, h, w, c] = ds.shape;
      console.log(`${ds.name} ${ds.split}: ${n} images ${h}×${w}×${c}, ${ds.classNames.length} classes, from ${ds.source}`);
      const counts = classCounts(ds);
      const width = Math.max(...ds.classNames.map((s) => s.length));
      ds.classNames.forEach((cls, i) => console.log(`  ${String(i).padStart(3)} ${cls.padEnd(width)} ${counts[i]}`));
    }
    const out = path.resolve(o.out ?? path.join(cache.root, 'previews', `${name}.png`));
    writeFileAtomic(out, previewGrid(splits.train, { perClass: 8 }));
    console.log(`preview: ${out}`);
    return 0;
  },
});
