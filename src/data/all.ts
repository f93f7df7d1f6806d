import { cifar10Dataset } from './cifar10';
import { gtsrbDataset } from './gtsrb';
import { mnistDataset } from './mnist';
import type { DatasetDefinition, DatasetName } from './source';
import { tinyImageNetDataset } from './tiny-imagenet';

/**
 * Every dataset the library ships, in the order the CLI lists them: the dataset registry
 * (registry.ts) calls this once, on first use, as tfjs registers its kernels (register_all_kernels).
 */
export function registerAllDatasets(register: (name: DatasetName, definition: DatasetDefinition) => void): void {
  register('mnist', mnistDataset);
  register('cifar10', cifar10Dataset);
  register('gtsrb', gtsrbDataset);
  register('tiny-imagenet', tinyImageNetDataset);
}
