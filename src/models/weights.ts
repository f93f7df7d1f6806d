import { createHash } from 'node:crypto';
import type { Model } from './model';

/**
 * sha256 of every param and state tensor (names, shapes and float32 bytes, in the model's order):
 * what a fine-tune from these weights is keyed by.
 */
export function weightsHash(model: Pick<Model, 'namedWeights'>): string {
  const hash = createHash('sha256');
  for (const { name, tensor } of model.namedWeights()) {
    const values = tensor.dataSync() as Float32Array;
    hash.update(`${name}:${tensor.dtype}[${tensor.shape.join(',')}]\n`);
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex');
}
