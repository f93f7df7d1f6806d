import { BatchNorm2d, Conv2d, Dense, flatten, globalAvgPool, MaxPool, relu, type Shape3 } from '../nn/layers';
import type { ArchitectureBuilder } from './model';

export interface PlainCnnSpec {
  /** filters of each conv3×3-BN-ReLU stage, named conv1, conv2, … */
  widths: readonly number[];
  /** stages (1-based) followed by a 2×2 max-pool */
  pooled: ReadonlySet<number>;
  /** units of the hidden dense layer between the flattened last stage and the classifier */
  hidden: number;
}

/**
 * A plain VGG-style net: conv3×3-BN-ReLU stages ('same' padding) with some 2×2 max-pools, then
 * flatten, dense(hidden)-ReLU, dense(K). The classifier reads the flattened last stage; `features`
 * is that stage (after its pool) globally average-pooled, so that f(·) means "last convolutional
 * stage, pooled" for every architecture. Activations conv1… are post-ReLU, before pooling.
 */
export function plainCnn(spec: PlainCnnSpec): ArchitectureBuilder {
  return (config, reg) => {
    let shape: Shape3 = config.inputShape;
    const stages = spec.widths.map((filters, i) => {
      const name = `conv${i + 1}`;
      const conv = new Conv2d(reg, name, shape, { filters, kernel: 3 });
      const bn = new BatchNorm2d(reg, `bn${i + 1}`, filters);
      shape = conv.outShape;
      const pool = spec.pooled.has(i + 1) ? new MaxPool(`pool${i + 1}`, shape, 2) : null;
      if (pool) shape = pool.outShape;
      return { name, conv, bn, pool };
    });
    const fc1 = new Dense(reg, 'fc1', shape[0] * shape[1] * shape[2], spec.hidden, 'he');
    const fc2 = new Dense(reg, 'fc2', spec.hidden, config.numClasses, 'torch');
    const last = spec.widths.length;
    return {
      activationNames: stages.map((s) => s.name),
      lastConv: { weight: `conv${last}.weight`, activation: `conv${last}`, batchNorm: `bn${last}` },
      run(x, training, tap) {
        let h = x;
        for (const s of stages) {
          h = relu(s.bn.apply(s.conv.apply(h), training));
          tap(s.name, h);
          if (s.pool) h = s.pool.apply(h);
        }
        const hidden = relu(fc1.apply(flatten(h)));
        return { logits: fc2.apply(hidden), features: globalAvgPool(h) };
      },
    };
  };
}
