import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';

/** A layer whose training-mode forward pass queues state updates that are applied later. */
export interface Stateful {
  commit(): void;
  discard(): void;
}

export type Init = (rng: Rng, size: number) => Float32Array;

/**
 * Everything a network registers while it is built: trainable parameters and non-trainable
 * state under stable dotted names, the layers holding queued state updates, and the FLOPs of
 * its convolutions and dense layers.
 */
export class Registry {
  readonly params = new Map<string, tf.Variable>();
  readonly state = new Map<string, tf.Variable>();
  readonly statefuls: Stateful[] = [];
  flops = 0;

  constructor(private readonly rng: Rng) {}

  /**
   * Each parameter draws from a stream forked by its name, so its initial values depend on the
   * seed and the name only, not on the order the network creates its layers in.
   */
  addParam<R extends tf.Rank>(name: string, shape: number[], init: Init): tf.Variable<R> {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = init(this.rng.fork(name), size);
    return this.add(this.params, name, shape, values, true);
  }

  addState<R extends tf.Rank>(name: string, shape: number[], fill: number): tf.Variable<R> {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.add(this.state, name, shape, new Float32Array(size).fill(fill), false);
  }

  private add<R extends tf.Rank>(
    into: Map<string, tf.Variable>,
    name: string,
    shape: number[],
    values: Float32Array,
    trainable: boolean,
  ): tf.Variable<R> {
    if (this.params.has(name) || this.state.has(name)) throw new Error(`duplicate tensor name '${name}'`);
    // Unnamed: tfjs variable names are global, and several models of one architecture coexist.
    const v = tf.tidy(() => tf.variable(tf.tensor<tf.Rank>(values, shape, 'float32'), trainable)) as tf.Variable<R>;
    into.set(name, v);
    return v;
  }
}

export const zeros: Init = (_rng, size) => new Float32Array(size);
export const ones: Init = (_rng, size) => new Float32Array(size).fill(1);

/** He / Kaiming normal, fan-in mode: keeps the forward variance of ReLU networks constant. */
export function heNormal(fanIn: number): Init {
  const std = Math.sqrt(2 / fanIn);
  return (rng, size) => rng.normalArray(size, 0, std);
}

/** PyTorch's default for nn.Linear weights and biases: U(−1/√fanIn, 1/√fanIn). */
export function torchUniform(fanIn: number): Init {
  const bound = 1 / Math.sqrt(fanIn);
  return (rng, size) => rng.uniformArray(size, -bound, bound);
}
