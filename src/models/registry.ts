import { Registry } from '../registry';
import type { Seed } from '../rng';
import { registerAllModels } from './all';
import type { ArchitectureBuilder, Model, ModelArch, ModelConfig } from './model';
import { Network } from './network';

/** The model catalogue, by architecture name; its entries (all.ts) are registered on first use. */
const MODELS = new Registry<ArchitectureBuilder>('model architecture', () => registerAllModels(registerModel));

export function registerModel(arch: string, build: ArchitectureBuilder): void {
  MODELS.register(arch, build);
}

/** The architectures the library ships, in the order the CLI lists them. */
export const MODEL_ARCHS = MODELS.names() as ModelArch[];

/** Builds a network with its parameters initialised from `seed` (identical on every backend). */
export function createModel(config: ModelConfig, seed: Seed): Model {
  return new Network(config, seed, MODELS.get(String(config.arch)));
}
