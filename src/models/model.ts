/**
 * The model catalogue's interface: what a model is and does, and what an architecture file
 * provides. Types only; the registry is registry.ts (createModel), the architectures are one file
 * each, listed in all.ts, and network.ts is the Model they share.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ParamModulator, ParameterStore } from '../nn/parameters';

export type ModelArch = 'smallcnn' | 'preact-resnet18' | 'resnet18' | 'mnist-net';

export interface ModelConfig {
  arch: ModelArch;
  /** [height, width, channels] of the float32 NHWC inputs, pixel values in [0, 1] */
  inputShape: [number, number, number];
  numClasses: number;
  /**
   * Optional per-channel normalisation applied inside forward(), (x − mean) / std, so that
   * callers (attacks especially) always work in [0, 1] pixel space. Absent: inputs are used as
   * they are. Part of the config, not of the weights.
   */
  normalization?: { mean: readonly number[]; std: readonly number[] };
}

export interface ForwardOptions {
  training: boolean;
  collect?: readonly string[] | 'all';
  /**
   * Replaces parameters' values for this pass only (ANP perturbs and masks batch-norm γ and β):
   * called once per parameter use with its dotted name; gradients flow through what it returns.
   */
  modulate?: ParamModulator;
}

export type { ParamModulator };

export interface ForwardOutput {
  logits: tf.Tensor2D;
  /**
   * Penultimate features: the output of the last convolutional stage, globally average-pooled,
   * before the classifier — the paper's f(·). Every architecture here pools, including those
   * whose classifier flattens instead.
   */
  features: tf.Tensor2D;
  /** named intermediate activations requested by `collect` (NHWC), e.g. 'conv3', 'layer3' */
  activations: Record<string, tf.Tensor4D>;
}

export interface LastConv {
  /** name of the last convolution's weight, [kh, kw, in, out]: fine-pruning masks its output channels */
  weight: string;
  /** name of the activation that carries those channels, recorded on clean data to rank them */
  activation: string;
  /**
   * Prefix of the batch norm directly after that convolution, when there is one: a channel with
   * zeroed conv weights still outputs its batch-norm shift, so pruning must zero `${batchNorm}.gamma`
   * and `${batchNorm}.beta` too.
   */
  batchNorm?: string;
}

export interface Model {
  readonly config: ModelConfig;
  /** trainable parameters, by stable dotted name, e.g. 'conv1.weight', 'layer2.0.bn1.gamma' */
  readonly params: ReadonlyMap<string, tf.Variable>;
  /** non-trainable state: batch-norm running estimates, e.g. 'bn1.runningMean', 'bn1.runningVar' */
  readonly state: ReadonlyMap<string, tf.Variable>;
  /** names of the activations `collect` accepts, in network order */
  readonly activationNames: readonly string[];
  readonly lastConv: LastConv;
  /**
   * Runs the network; no intermediate tensor outlives the call except those returned. In
   * training mode batch norm uses batch statistics and queues running-stat updates until
   * commitState() or discardState().
   */
  forward(x: tf.Tensor4D, opts: ForwardOptions): ForwardOutput;
  /** eval-mode logits */
  predict(x: tf.Tensor4D): tf.Tensor2D;
  /**
   * Applies the queued running-stat updates, one per training-mode forward pass and in order
   * (PyTorch semantics: momentum 0.1, unbiased variance for the running estimate). Call after
   * each optimiser step, outside gradient computation.
   */
  commitState(): void;
  /** Drops queued running-stat updates, e.g. after training-mode passes made only to craft inputs. */
  discardState(): void;
  /**
   * All params then all state, as named tensors for checkpoints. The tensors are the model's own
   * variables, not copies: read them, do not dispose them.
   */
  namedWeights(): { name: string; tensor: tf.Tensor }[];
  /**
   * Copies every param and state tensor from `weights` (which must hold exactly the model's
   * names, with the same shapes); validates everything before changing anything and drops
   * queued state updates. The caller keeps ownership of the given tensors.
   */
  loadWeights(weights: Record<string, tf.Tensor>): void;
  /** FLOPs (multiply-adds × 2) of convolutions and dense layers for one image */
  forwardFlops(): number;
  /** An independent model of the same architecture holding a copy of every param and state tensor. */
  clone(): Model;
  dispose(): void;
}

/** What an architecture file provides: its layers are registered in `reg` when it is built. */
export interface Architecture {
  readonly activationNames: readonly string[];
  readonly lastConv: LastConv;
  /** `tap(name, t)` offers each named activation; `x` is already normalised */
  run(x: tf.Tensor4D, training: boolean, tap: (name: string, t: tf.Tensor4D) => void): { logits: tf.Tensor2D; features: tf.Tensor2D };
}

export type ArchitectureBuilder = (config: ModelConfig, reg: ParameterStore) => Architecture;
