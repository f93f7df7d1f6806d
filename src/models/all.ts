import { buildMnistNet } from './mnist-net';
import type { ArchitectureBuilder, ModelArch } from './model';
import { buildPreActResNet18 } from './preact-resnet18';
import { buildResNet18 } from './resnet18';
import { buildSmallCnn } from './smallcnn';

/**
 * Every architecture the library ships: the model registry (registry.ts) calls this once, on
 * first use, as tfjs registers its kernels (register_all_kernels).
 */
export function registerAllModels(register: (arch: ModelArch, build: ArchitectureBuilder) => void): void {
  register('smallcnn', buildSmallCnn);
  register('preact-resnet18', buildPreActResNet18);
  register('resnet18', buildResNet18);
  register('mnist-net', buildMnistNet);
}
