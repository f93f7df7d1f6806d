import { adapterName, initBackend, runtimeInfo } from '../../backend';
import { cacheRoot } from '../../cache';
import { findLocalDatasets } from '../../data/registry';
import { defineCommand } from '../command';
import { COMMON_OPTIONS, opt } from '../options';

export const info = defineCommand({
  name: 'info',
  summary: 'backend, versions, machine, cache folder and the datasets found',
  options: { ...COMMON_OPTIONS, json: opt.flag('print JSON') },
  async run(o) {
    await initBackend(o.backend);
    const info = { ...runtimeInfo(), cacheDir: cacheRoot(), datasets: findLocalDatasets() };
    if (o.json) {
      console.log(JSON.stringify(info, null, 2));
      return 0;
    }
    console.log(`backend:   ${info.backend} (tfjs backend '${info.tfBackend}')`);
    if (info.native) console.log(`native:    oneDNN ${info.native.oneDNN}, ${info.native.threads} thread(s); runs ${info.native.kernels.join(', ')}`);
    if (info.adapter) {
      console.log(`adapter:   ${adapterName(info.adapter)}, vendor ${info.adapter.vendor}, architecture ${info.adapter.architecture}`);
      console.log(
        `limits:    ${Object.entries(info.adapter.limits)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
    }
    console.log(`machine:   ${info.machine.cores}× ${info.machine.cpu}, ${info.machine.memoryGiB} GiB, ${info.machine.platform}`);
    console.log('versions:');
    for (const [k, v] of Object.entries(info.versions)) console.log(`  ${k.padEnd(30)} ${v ?? 'not installed'}`);
    console.log(`cache:     ${info.cacheDir}`);
    console.log('datasets:');
    for (const d of info.datasets) console.log(`  ${d.name.padEnd(14)} ${d.available ? 'found' : 'not found'}  ${d.where}`);
    return 0;
  },
});
