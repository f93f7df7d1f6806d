import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore } from '../nn/parameters';
import { Rng, type Seed } from '../rng';
import type { Architecture, ArchitectureBuilder, ForwardOptions, ForwardOutput, LastConv, Model, ModelConfig } from './model';

function validateConfig(config: ModelConfig): void {
  const { inputShape, numClasses, normalization } = config;
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${config.arch}: inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`${config.arch}: numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  if (normalization) {
    const c = inputShape[2];
    const { mean, std } = normalization;
    if (mean.length !== c || std.length !== c) {
      throw new Error(`${config.arch}: normalization needs ${c} means and stds, got ${mean.length} and ${std.length}`);
    }
    if (!std.every((s) => s > 0)) throw new Error(`${config.arch}: normalization std must be positive, got [${std}]`);
  }
}

/** The Model every architecture shares: naming, state, checkpoints and bookkeeping. */
export class Network implements Model {
  readonly config: ModelConfig;
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly state: ReadonlyMap<string, tf.Variable>;
  readonly activationNames: readonly string[];
  readonly lastConv: LastConv;
  private readonly reg: ParameterStore;
  private readonly arch: Architecture;

  constructor(
    config: ModelConfig,
    seed: Seed,
    private readonly build: ArchitectureBuilder,
  ) {
    validateConfig(config);
    this.config = config;
    this.reg = new ParameterStore(new Rng(seed).fork(`model:${config.arch}`));
    try {
      this.arch = build(config, this.reg);
    } catch (e) {
      this.reg.dispose();
      throw e;
    }
    this.params = this.reg.params;
    this.state = this.reg.state;
    this.activationNames = this.arch.activationNames;
    this.lastConv = this.arch.lastConv;
  }

  forward(x: tf.Tensor4D, opts: ForwardOptions): ForwardOutput {
    this.checkInput(x);
    const wanted = this.wantedActivations(opts.collect);
    this.reg.modulator = opts.modulate ?? null;
    try {
      return tf.tidy(() => {
        const activations: Record<string, tf.Tensor4D> = {};
        const tap = (name: string, t: tf.Tensor4D) => {
          if (wanted.has(name)) activations[name] = t;
        };
        const { logits, features } = this.arch.run(this.normalize(x), opts.training, tap);
        return { logits, features, activations };
      });
    } finally {
      this.reg.modulator = null;
    }
  }

  predict(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.forward(x, { training: false }).logits);
  }

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
    this.reg.loadWeights(weights, `loadWeights (${this.config.arch})`);
  }

  forwardFlops(): number {
    return this.reg.flops;
  }

  clone(): Model {
    // The fresh initialisation is overwritten at once; only the architecture matters.
    const copy = new Network(this.config, 'clone', this.build);
    try {
      copy.loadWeights(Object.fromEntries(this.namedWeights().map(({ name, tensor }) => [name, tensor])));
    } catch (e) {
      copy.dispose();
      throw e;
    }
    return copy;
  }

  dispose(): void {
    this.reg.dispose();
  }

  private checkInput(x: tf.Tensor4D): void {
    const [h, w, c] = this.config.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new Error(`${this.config.arch}: expected input [N, ${h}, ${w}, ${c}], got [${x.shape}]`);
    }
    if (x.dtype !== 'float32') throw new Error(`${this.config.arch}: expected float32 input, got ${x.dtype}`);
  }

  private wantedActivations(collect: ForwardOptions['collect']): Set<string> {
    if (collect === undefined) return new Set();
    if (collect === 'all') return new Set(this.activationNames);
    const unknown = collect.filter((name) => !this.activationNames.includes(name));
    if (unknown.length > 0) {
      throw new Error(`${this.config.arch}: unknown activation(s) ${unknown.map((n) => `'${n}'`).join(', ')}; valid: ${this.activationNames.join(', ')}`);
    }
    return new Set(collect);
  }

  private normalize(x: tf.Tensor4D): tf.Tensor4D {
    const norm = this.config.normalization;
    if (!norm) return x;
    return tf.div(tf.sub(x, tf.tensor1d(norm.mean as number[])), tf.tensor1d(norm.std as number[]));
  }
}
