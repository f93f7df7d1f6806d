import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../io/checkpoint';

export type OptimizerConfig =
  | { kind: 'sgd'; lr: number; momentum: number; weightDecay: number; nesterov?: boolean }
  | { kind: 'adam'; lr: number; beta1?: number; beta2?: number; epsilon?: number; weightDecay: number };

/**
 * Optimisers with PyTorch's update rules (weight decay added to the gradient, momentum buffer
 * initialised with the first gradient), so settings read from the reference code mean the same
 * here. The learning rate is passed per step, which keeps schedules outside the optimiser, and
 * the slots are named tensors, which lets a checkpoint resume mid-training exactly.
 */
export interface Optimizer {
  readonly config: OptimizerConfig;
  step(params: ReadonlyMap<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): void;
  slots(): NamedTensor[];
  loadSlots(slots: Record<string, tf.Tensor>): void;
  dispose(): void;
}

function validate(cfg: OptimizerConfig): void {
  const bad = (field: string, v: unknown) => new Error(`optimizer.${field}: expected a finite number ≥ 0, got ${v}`);
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'kind' || k === 'nesterov') continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(k, v);
  }
  if (cfg.kind !== 'sgd' && cfg.kind !== 'adam') throw new Error(`optimizer.kind: expected 'sgd' or 'adam', got '${(cfg as { kind: string }).kind}'`);
}

const ADAM_STEP = 'adam.t';

class Slots {
  readonly vars = new Map<string, tf.Variable>();

  get(name: string, like: tf.Tensor): tf.Variable {
    let v = this.vars.get(name);
    if (!v) {
      v = tf.variable(tf.zerosLike(like), false);
      this.vars.set(name, v);
    }
    return v;
  }

  named(): NamedTensor[] {
    return [...this.vars].map(([name, tensor]) => ({ name, tensor }));
  }

  load(slots: Record<string, tf.Tensor>): void {
    this.dispose();
    for (const [name, t] of Object.entries(slots)) {
      this.vars.set(name, tf.variable(t, false));
      t.dispose();
    }
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

class Sgd implements Optimizer {
  private readonly slots_ = new Slots();

  constructor(readonly config: Extract<OptimizerConfig, { kind: 'sgd' }>) {}

  step(params: ReadonlyMap<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): void {
    const { momentum, weightDecay, nesterov } = this.config;
    tf.tidy(() => {
      for (const [name, p] of params) {
        const g0 = grads[name];
        if (!g0) continue;
        const g = weightDecay > 0 ? tf.add(g0, tf.mul(p, weightDecay)) : g0;
        let update: tf.Tensor = g;
        if (momentum > 0) {
          const buf = this.slots_.get(`${name}.momentum`, p);
          // A fresh buffer is zero, so its first value is g, as in PyTorch.
          const next = tf.add(tf.mul(buf, momentum), g);
          buf.assign(next);
          update = nesterov ? tf.add(g, tf.mul(next, momentum)) : next;
        }
        p.assign(tf.sub(p, tf.mul(update, lr)));
      }
    });
  }

  slots(): NamedTensor[] {
    return this.slots_.named();
  }

  loadSlots(slots: Record<string, tf.Tensor>): void {
    this.slots_.load(slots);
  }

  dispose(): void {
    this.slots_.dispose();
  }
}

class Adam implements Optimizer {
  private readonly slots_ = new Slots();
  /** The step count lives in a slot too, so a checkpoint resumes the bias correction exactly. */
  private readonly step_ = tf.tidy(() => tf.variable(tf.scalar(0, 'int32'), false));

  constructor(readonly config: Extract<OptimizerConfig, { kind: 'adam' }>) {}

  step(params: ReadonlyMap<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): void {
    const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay } = this.config;
    const t = (this.step_.dataSync()[0] as number) + 1;
    tf.tidy(() => this.step_.assign(tf.scalar(t, 'int32')));
    const c1 = 1 - beta1 ** t;
    const c2 = 1 - beta2 ** t;
    tf.tidy(() => {
      for (const [name, p] of params) {
        const g0 = grads[name];
        if (!g0) continue;
        const g = weightDecay > 0 ? tf.add(g0, tf.mul(p, weightDecay)) : g0;
        const m = this.slots_.get(`${name}.m`, p);
        const v = this.slots_.get(`${name}.v`, p);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const denom = tf.add(tf.sqrt(tf.div(v, c2)), epsilon);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), lr / c1)));
      }
    });
  }

  slots(): NamedTensor[] {
    return [...this.slots_.named(), { name: ADAM_STEP, tensor: this.step_ }];
  }

  loadSlots(slots: Record<string, tf.Tensor>): void {
    const { [ADAM_STEP]: t, ...rest } = slots;
    tf.tidy(() => this.step_.assign(t ? (tf.cast(t, 'int32') as tf.Scalar) : tf.scalar(0, 'int32')));
    t?.dispose();
    this.slots_.load(rest);
  }

  dispose(): void {
    this.slots_.dispose();
    if (!this.step_.isDisposed) this.step_.dispose();
  }
}

export function createOptimizer(cfg: OptimizerConfig): Optimizer {
  validate(cfg);
  return cfg.kind === 'sgd' ? new Sgd(cfg) : new Adam(cfg);
}
