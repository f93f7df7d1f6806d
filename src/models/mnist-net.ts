import { BatchNorm2d, Conv2d, Dense, flatten, globalAvgPool, MaxPool, relu, type Shape3 } from '../nn/layers';
import type { ArchitectureBuilder } from './network';

/**
 * A small net for 28×28×1 digits: conv3×3(16)-BN-ReLU-maxpool2, conv3×3(32)-BN-ReLU-maxpool2,
 * flatten, dense(128)-ReLU, dense(K). (The reference code's MNIST net has a stride-2 stem,
 * pre-activation blocks and dropout; dropout would make forward() random, so this simpler net
 * stands in.) `features` is the conv2 stage globally average-pooled (32 values), as for smallcnn.
 */
export const buildMnistNet: ArchitectureBuilder = (config, reg) => {
  let shape: Shape3 = config.inputShape;
  const stages = [16, 32].map((filters, i) => {
    const name = `conv${i + 1}`;
    const conv = new Conv2d(reg, name, shape, { filters, kernel: 3 });
    const bn = new BatchNorm2d(reg, `bn${i + 1}`, filters);
    const pool = new MaxPool(`pool${i + 1}`, conv.outShape, 2);
    shape = pool.outShape;
    return { name, conv, bn, pool };
  });
  const fc1 = new Dense(reg, 'fc1', shape[0] * shape[1] * shape[2], 128, 'he');
  const fc2 = new Dense(reg, 'fc2', 128, config.numClasses, 'torch');
  return {
    activationNames: stages.map((s) => s.name),
    lastConv: { weight: 'conv2.weight', activation: 'conv2', batchNorm: 'bn2' },
    run(x, training, tap) {
      let h = x;
      for (const s of stages) {
        h = relu(s.bn.apply(s.conv.apply(h), training));
        tap(s.name, h);
        h = s.pool.apply(h);
      }
      const hidden = relu(fc1.apply(flatten(h)));
      return { logits: fc2.apply(hidden), features: globalAvgPool(h) };
    },
  };
};
