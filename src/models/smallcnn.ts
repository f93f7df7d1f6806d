import { BatchNorm2d, Conv2d, Dense, flatten, globalAvgPool, MaxPool, relu, type Shape3 } from '../nn/layers';
import type { ArchitectureBuilder } from './network';

const WIDTHS = [32, 32, 64, 64, 128];
/** convs (1-based) followed by a 2×2 max-pool */
const POOLED = new Set([2, 4, 5]);

/**
 * conv3×3(32)-BN-ReLU, conv3×3(32)-BN-ReLU, maxpool2, conv3×3(64)-BN-ReLU, conv3×3(64)-BN-ReLU,
 * maxpool2, conv3×3(128)-BN-ReLU, maxpool2, flatten, dense(256)-ReLU, dense(K); 'same' padding.
 *
 * The classifier reads the flattened conv5 stage; `features` is that same stage (after its
 * max-pool) globally average-pooled to 128 values, so that f(·) means "last convolutional stage,
 * pooled" for every architecture. Activations conv1..conv5 are post-ReLU, before pooling.
 */
export const buildSmallCnn: ArchitectureBuilder = (config, reg) => {
  let shape: Shape3 = config.inputShape;
  const stages = WIDTHS.map((filters, i) => {
    const name = `conv${i + 1}`;
    const conv = new Conv2d(reg, name, shape, { filters, kernel: 3 });
    const bn = new BatchNorm2d(reg, `bn${i + 1}`, filters);
    shape = conv.outShape;
    const pool = POOLED.has(i + 1) ? new MaxPool(`pool${i + 1}`, shape, 2) : null;
    if (pool) shape = pool.outShape;
    return { name, conv, bn, pool };
  });
  const fc1 = new Dense(reg, 'fc1', shape[0] * shape[1] * shape[2], 256, 'he');
  const fc2 = new Dense(reg, 'fc2', 256, config.numClasses, 'torch');
  return {
    activationNames: stages.map((s) => s.name),
    lastConv: { weight: 'conv5.weight', activation: 'conv5', batchNorm: 'bn5' },
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
