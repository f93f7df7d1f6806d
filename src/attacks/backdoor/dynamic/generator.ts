import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d, Conv2d, MaxPool, relu, type Shape3 } from '../../../nn/layers';
import { ParameterStore } from '../../../nn/parameters';
import type { Rng } from '../../../rng';

/** JSON-serialisable description of a generator: enough to rebuild it before loading weights. */
export interface GeneratorConfig {
  /** [height, width, channels] of the images it reads; height and width divisible by 2^depth */
  inputShape: [number, number, number];
  /** channels of the map it outputs: the image's channels for a pattern, 1 for a mask */
  outChannels: number;
  /** channels of the first stage, doubled at every further stage (reference: 16 for MNIST, 32 otherwise) */
  width: number;
  /** down-sampling stages (reference: 2 for MNIST, 3 otherwise) */
  depth: number;
}

export function validateGeneratorConfig(cfg: GeneratorConfig): void {
  const { inputShape, outChannels, width, depth } = cfg;
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`generator.inputShape: expected [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  if (!Number.isInteger(outChannels) || outChannels < 1) throw new Error(`generator.outChannels: expected an integer ≥ 1, got ${outChannels}`);
  if (!Number.isInteger(width) || width < 1) throw new Error(`generator.width: expected an integer ≥ 1, got ${width}`);
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`generator.depth: expected an integer ≥ 1, got ${depth}`);
  const scale = 2 ** depth;
  if (inputShape[0] % scale !== 0 || inputShape[1] % scale !== 0) {
    throw new Error(`generator.depth: ${depth} halvings need height and width divisible by ${scale}, got ${inputShape[0]}×${inputShape[1]}; lower the depth`);
  }
}

/** conv3×3-BN(-ReLU): the reference's Conv2dBlock. No conv bias, since batch norm cancels it. */
class ConvBlock {
  private readonly conv: Conv2d;
  private readonly bn: BatchNorm2d;
  readonly outShape: Shape3;

  constructor(
    reg: ParameterStore,
    name: string,
    inShape: Shape3,
    filters: number,
    private readonly activate: boolean,
  ) {
    this.conv = new Conv2d(reg, `${name}.conv`, inShape, { filters, kernel: 3 });
    this.bn = new BatchNorm2d(reg, `${name}.bn`, filters);
    this.outShape = this.conv.outShape;
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const y = this.bn.apply(this.conv.apply(x), training);
    return this.activate ? relu(y) : y;
  }
}

type Stage = { kind: 'block'; block: ConvBlock } | { kind: 'pool'; pool: MaxPool } | { kind: 'up'; size: [number, number] };

const TANH_EPSILON = 1e-7;

/**
 * The input-aware attack's encoder-decoder (Nguyen & Tran 2020): per stage two conv blocks and
 * a 2×2 max-pool, channels doubling; a middle block; then per stage a ×2 bilinear up-sampling
 * (half-pixel centres, like PyTorch's align_corners=False) and two conv blocks, the last one
 * without ReLU; output tanh(h)/(2+ε) + ½, a map in (0, 1) of the input's size.
 *
 * Parameters are named like a model's ('down0.conv.weight', 'up3.bn.runningVar', …) and drawn
 * from `rng` per name, so a generator is reproducible from its seed alone.
 */
export class DynamicGenerator {
  readonly config: GeneratorConfig;
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly state: ReadonlyMap<string, tf.Variable>;
  private readonly reg: ParameterStore;
  private readonly stages: Stage[] = [];

  constructor(config: GeneratorConfig, rng: Rng) {
    validateGeneratorConfig(config);
    this.config = config;
    this.reg = new ParameterStore(rng);
    try {
      this.build();
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.params = this.reg.params;
    this.state = this.reg.state;
  }

  private build(): void {
    const { inputShape, outChannels, width, depth } = this.config;
    let shape: Shape3 = inputShape;
    const block = (name: string, filters: number, activate = true) => {
      const b = new ConvBlock(this.reg, name, shape, filters, activate);
      shape = b.outShape;
      this.stages.push({ kind: 'block', block: b });
    };
    let channels = width;
    for (let s = 0; s < depth; s++) {
      block(`down${2 * s}`, channels);
      block(`down${2 * s + 1}`, channels);
      const pool = new MaxPool(`pool${s}`, shape, 2);
      shape = pool.outShape;
      this.stages.push({ kind: 'pool', pool });
      if (s < depth - 1) channels *= 2;
    }
    block('middle', channels);
    for (let s = 0; s < depth; s++) {
      const size: [number, number] = [shape[0] * 2, shape[1] * 2];
      shape = [size[0], size[1], shape[2]];
      this.stages.push({ kind: 'up', size });
      block(`up${2 * s}`, channels);
      const last = s === depth - 1;
      channels = last ? outChannels : channels / 2;
      block(`up${2 * s + 1}`, channels, !last);
    }
  }

  /** The generated map, [N, H, W, outChannels] in (0, 1). Training mode queues batch-norm updates. */
  forward(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const [h, w, c] = this.config.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new Error(`dynamic generator: expected input [N, ${h}, ${w}, ${c}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      let y = x;
      for (const stage of this.stages) {
        if (stage.kind === 'block') y = stage.block.apply(y, training);
        else if (stage.kind === 'pool') y = stage.pool.apply(y);
        else y = tf.image.resizeBilinear(y, stage.size, false, true);
      }
      return tf.add(tf.div(tf.tanh(y), 2 + TANH_EPSILON), 0.5);
    });
  }

  /** Applies the batch-norm updates queued by training-mode passes; call after each optimiser step. */
  commitState(): void {
    this.reg.commit();
  }

  discardState(): void {
    this.reg.discard();
  }

  namedWeights(): { name: string; tensor: tf.Tensor }[] {
    return this.reg.namedWeights();
  }

  loadWeights(weights: Record<string, tf.Tensor>): void {
    this.reg.loadWeights(weights, 'dynamic generator loadWeights');
  }

  dispose(): void {
    this.reg.dispose();
  }
}
