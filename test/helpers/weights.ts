import type { Model } from '../../src/models/model';

/** A model's weights by name, copied out, for comparing two runs value by value. */
export function weightsOf(model: Model): Record<string, Float32Array> {
  return Object.fromEntries(model.namedWeights().map(({ name, tensor }) => [name, tensor.dataSync() as Float32Array]));
}
