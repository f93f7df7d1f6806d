import * as tf from '@tensorflow/tfjs-core';
import { batchNormTrain } from '../kernels/batch-norm';
import { heNormal, ones, ParameterStore, type Stateful, torchUniform, zeros } from './parameters';

/** Per-image activation shape, [height, width, channels]: layers infer theirs when built. */
export type Shape3 = readonly [number, number, number];

/** PyTorch's output size: floor((size + 2·pad − kernel) / stride) + 1. */
function outSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

function spatial(name: string, [h, w, c]: Shape3, kernel: number, stride: number, pad: number, outC: number): Shape3 {
  const oh = outSize(h, kernel, stride, pad);
  const ow = outSize(w, kernel, stride, pad);
  if (oh < 1 || ow < 1) {
    throw new Error(`${name}: a ${h}×${w}×${c} input is too small for kernel ${kernel}, stride ${stride}, padding ${pad}`);
  }
  return [oh, ow, outC];
}

export interface Conv2dOptions {
  filters: number;
  kernel: number;
  stride?: number;
  /** Zero padding on every side; defaults to ⌊kernel/2⌋ ('same' at stride 1, PyTorch alignment at stride 2). */
  padding?: number;
  bias?: boolean;
}

/**
 * Square convolution, weights [kh, kw, in, out]. Padding is symmetric and explicit, as in
 * PyTorch: tfjs's 'same' pads stride-2 convolutions on the bottom/right only, which shifts the
 * sampling grid by one pixel relative to the reference networks.
 */
export class Conv2d {
  readonly weight: tf.Variable<tf.Rank.R4>;
  readonly bias: tf.Variable<tf.Rank.R1> | null;
  readonly outShape: Shape3;
  private readonly stride: number;
  private readonly padding: number;

  constructor(
    private readonly reg: ParameterStore,
    private readonly name: string,
    inShape: Shape3,
    opts: Conv2dOptions,
  ) {
    const { filters, kernel, stride = 1, padding = Math.floor(kernel / 2), bias = false } = opts;
    const fanIn = kernel * kernel * inShape[2];
    this.stride = stride;
    this.padding = padding;
    this.outShape = spatial(name, inShape, kernel, stride, padding, filters);
    this.weight = reg.addParam(`${name}.weight`, [kernel, kernel, inShape[2], filters], heNormal(fanIn));
    this.bias = bias ? reg.addParam(`${name}.bias`, [filters], zeros) : null;
    reg.flops += 2 * this.outShape[0] * this.outShape[1] * filters * fanIn;
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const { reg, name } = this;
    const y = tf.conv2d(x, reg.value<tf.Tensor4D>(`${name}.weight`, this.weight), this.stride, this.padding);
    return this.bias ? tf.add(y, reg.value(`${name}.bias`, this.bias)) : y;
  }
}

const BN_MOMENTUM = 0.1;
const BN_EPSILON = 1e-5;

interface BatchMoments {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  /** values per channel the moments were taken over (N·H·W) */
  count: number;
}

/**
 * Batch norm over NHWC channels with PyTorch semantics. Training mode normalises with the batch
 * moments (through batchNormTrain, whose closed-form gradient is much faster on wasm) and
 * queues them; commit() folds each queued batch into the running estimates (momentum 0.1,
 * unbiased variance), in order. Queuing keeps variable assignments out of gradient computations.
 */
export class BatchNorm2d implements Stateful {
  readonly gamma: tf.Variable<tf.Rank.R1>;
  readonly beta: tf.Variable<tf.Rank.R1>;
  readonly runningMean: tf.Variable<tf.Rank.R1>;
  readonly runningVar: tf.Variable<tf.Rank.R1>;
  private pending: BatchMoments[] = [];

  constructor(
    private readonly reg: ParameterStore,
    private readonly name: string,
    channels: number,
  ) {
    this.gamma = reg.addParam(`${name}.gamma`, [channels], ones);
    this.beta = reg.addParam(`${name}.beta`, [channels], zeros);
    this.runningMean = reg.addState(`${name}.runningMean`, [channels], 0);
    this.runningVar = reg.addState(`${name}.runningVar`, [channels], 1);
    reg.statefuls.push(this);
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const gamma = this.reg.value<tf.Tensor1D>(`${this.name}.gamma`, this.gamma);
    const beta = this.reg.value<tf.Tensor1D>(`${this.name}.beta`, this.beta);
    if (!training) {
      // Eval mode is a per-channel affine map; written as one multiply and one add, its input
      // gradient (every PGD step) is a single multiply, where tfjs's batchNorm gradient tiles.
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(this.runningVar, BN_EPSILON)));
      const shift = tf.sub(beta, tf.mul(this.runningMean, scale));
      return tf.add(tf.mul(x, scale), shift);
    }
    const [n, h, w] = x.shape;
    const count = n * h * w;
    if (count < 2) {
      throw new Error(`${this.name}: training-mode batch norm needs more than one value per channel, got input [${x.shape}]`);
    }
    const { y, mean, variance } = batchNormTrain(x, gamma, beta, BN_EPSILON);
    this.pending.push({ mean, variance, count });
    return y as tf.Tensor4D;
  }

  commit(): void {
    for (const { mean, variance, count } of this.pending) {
      tf.tidy(() => {
        const keep = 1 - BN_MOMENTUM;
        this.runningMean.assign(tf.add(tf.mul(this.runningMean, keep), tf.mul(mean, BN_MOMENTUM)));
        const unbiased = tf.mul(variance, count / (count - 1));
        this.runningVar.assign(tf.add(tf.mul(this.runningVar, keep), tf.mul(unbiased, BN_MOMENTUM)));
      });
    }
    this.discard();
  }

  discard(): void {
    for (const { mean, variance } of this.pending) tf.dispose([mean, variance]);
    this.pending = [];
  }
}

/** Fully connected layer, weights [in, out]. */
export class Dense {
  readonly weight: tf.Variable<tf.Rank.R2>;
  readonly bias: tf.Variable<tf.Rank.R1>;

  /**
   * 'he': He-normal weights, zero bias, for hidden layers followed by ReLU.
   * 'torch': PyTorch's nn.Linear default, used for classifiers as in the reference networks.
   */
  constructor(
    private readonly reg: ParameterStore,
    private readonly name: string,
    inFeatures: number,
    outFeatures: number,
    init: 'he' | 'torch',
  ) {
    const weightInit = init === 'he' ? heNormal(inFeatures) : torchUniform(inFeatures);
    this.weight = reg.addParam(`${name}.weight`, [inFeatures, outFeatures], weightInit);
    this.bias = reg.addParam(`${name}.bias`, [outFeatures], init === 'he' ? zeros : torchUniform(inFeatures));
    reg.flops += 2 * inFeatures * outFeatures;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    const { reg, name } = this;
    return tf.add(tf.matMul(x, reg.value<tf.Tensor2D>(`${name}.weight`, this.weight)), reg.value(`${name}.bias`, this.bias));
  }
}

/** Max pooling with PyTorch's floor rounding; padded positions never win the max. */
export class MaxPool {
  readonly outShape: Shape3;
  private readonly stride: number;

  constructor(
    name: string,
    inShape: Shape3,
    private readonly size: number,
    stride?: number,
    private readonly padding = 0,
  ) {
    this.stride = stride ?? size;
    this.outShape = spatial(name, inShape, size, this.stride, padding, inShape[2]);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.maxPool(x, this.size, this.stride, this.padding);
  }
}

export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}

/** [N, H, W, C] → [N, C] */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  return tf.mean(x, [1, 2]);
}

/** [N, H, W, C] → [N, H·W·C] */
export function flatten(x: tf.Tensor4D): tf.Tensor2D {
  return tf.reshape(x, [x.shape[0], -1]);
}
