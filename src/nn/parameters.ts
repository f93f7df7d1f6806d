import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';

/** A layer whose training-mode forward pass queues state updates that are applied later. */
export interface Stateful {
  commit(): void;
  discard(): void;
}

export type Init = (rng: Rng, size: number) => Float32Array;

/**
 * Replaces a parameter's value for one forward pass: called with the parameter's dotted name and
 * its variable, returns the tensor the layer computes with (e.g. ANP's γ·(mask + δ)). Gradients
 * flow through it to whatever it uses; return the variable itself to leave a parameter alone.
 */
export type ParamModulator = (name: string, value: tf.Variable) => tf.Tensor;

/**
 * Everything a network registers while it is built: trainable parameters and non-trainable
 * state under stable dotted names, the layers holding queued state updates, and the FLOPs of
 * its convolutions and dense layers.
 */
export class ParameterStore {
  readonly params = new Map<string, tf.Variable>();
  readonly state = new Map<string, tf.Variable>();
  readonly statefuls: Stateful[] = [];
  flops = 0;
  /** set by the network for the duration of one forward pass */
  modulator: ParamModulator | null = null;

  constructor(private readonly rng: Rng) {}

  /** What a layer computes with for parameter `name`: the variable, or its modulated value during a modulated pass. */
  value<T extends tf.Tensor>(name: string, v: tf.Variable): T {
    if (!this.modulator) return v as unknown as T;
    const out = this.modulator(name, v);
    if (!tf.util.arraysEqual(out.shape, v.shape)) {
      throw new Error(`modulate: parameter '${name}' has shape [${v.shape}], the modulator returned [${out.shape}]`);
    }
    return out as T;
  }

  /** Applies the batch-norm updates queued by training-mode passes. */
  commit(): void {
    for (const s of this.statefuls) s.commit();
  }

  discard(): void {
    for (const s of this.statefuls) s.discard();
  }

  /** Params then state: the network's own variables (read them, do not dispose them). */
  namedWeights(): { name: string; tensor: tf.Tensor }[] {
    return [...this.params, ...this.state].map(([name, tensor]) => ({ name, tensor }));
  }

  /**
   * Takes exactly these tensors' values, checked before anything changes; errors start with
   * `where`. The variables share the (immutable, reference-counted) data, so the caller may
   * dispose `weights` afterwards.
   */
  loadWeights(weights: Record<string, tf.Tensor>, where: string): void {
    const own = new Map([...this.params, ...this.state]);
    const missing = [...own.keys()].filter((name) => !Object.prototype.hasOwnProperty.call(weights, name));
    if (missing.length > 0) throw new Error(`${where}: missing tensor(s) ${missing.map((n) => `'${n}'`).join(', ')}`);
    const unknown = Object.keys(weights).filter((name) => !own.has(name));
    if (unknown.length > 0) throw new Error(`${where}: unknown tensor(s) ${unknown.map((n) => `'${n}'`).join(', ')}`);
    for (const [name, v] of own) {
      const t = weights[name];
      if (!tf.util.arraysEqual(t.shape, v.shape)) throw new Error(`${where}: tensor '${name}' has shape [${t.shape}], expected [${v.shape}]`);
      if (t.dtype !== v.dtype) throw new Error(`${where}: tensor '${name}' has dtype ${t.dtype}, expected ${v.dtype}`);
    }
    this.discard();
    // assign() releases the old data before taking the new: with shared data it would free both.
    for (const [name, v] of own) if (weights[name].dataId !== v.dataId) v.assign(weights[name]);
  }

  dispose(): void {
    this.discard();
    for (const v of [...this.params.values(), ...this.state.values()]) v.dispose();
  }

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

  private add<R extends tf.Rank>(into: Map<string, tf.Variable>, name: string, shape: number[], values: Float32Array, trainable: boolean): tf.Variable<R> {
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
