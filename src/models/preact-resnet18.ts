import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d, Conv2d, Dense, globalAvgPool, relu, type Shape3 } from '../nn/layers';
import type { ParameterStore } from '../nn/parameters';
import type { ArchitectureBuilder } from './model';

/** Pre-activation basic block: BN-ReLU-conv3×3-BN-ReLU-conv3×3, plus the (projected) input. */
class PreActBlock {
  readonly outShape: Shape3;
  private readonly bn1: BatchNorm2d;
  private readonly conv1: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly shortcut: Conv2d | null;

  constructor(reg: ParameterStore, name: string, inShape: Shape3, planes: number, stride: number) {
    this.bn1 = new BatchNorm2d(reg, `${name}.bn1`, inShape[2]);
    this.conv1 = new Conv2d(reg, `${name}.conv1`, inShape, { filters: planes, kernel: 3, stride });
    this.bn2 = new BatchNorm2d(reg, `${name}.bn2`, planes);
    this.conv2 = new Conv2d(reg, `${name}.conv2`, this.conv1.outShape, { filters: planes, kernel: 3 });
    this.shortcut =
      stride !== 1 || inShape[2] !== planes ? new Conv2d(reg, `${name}.shortcut.0`, inShape, { filters: planes, kernel: 1, stride, padding: 0 }) : null;
    this.outShape = this.conv2.outShape;
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const pre = relu(this.bn1.apply(x, training));
    // As in the reference: the projection shortcut reads the pre-activated input, identity the raw one.
    const skip = this.shortcut ? this.shortcut.apply(pre) : x;
    const h = this.conv2.apply(relu(this.bn2.apply(this.conv1.apply(pre), training)));
    return tf.add(h, skip);
  }
}

/**
 * PreActResNet18 exactly as in Kuang Liu's pytorch-cifar, which is also the one in the paper's
 * reference code (Syyabb/BPE) and in BackdoorBench: conv3×3(64) stem without BN, four stages of
 * two PreActBlocks (64, 128, 256, 512; strides 1, 2, 2, 2; 1×1 projection shortcut when the
 * shape changes), then average pooling straight after layer4 — no final BN-ReLU — and
 * linear(K). The reference's AvgPool2d(4) is a global average pool for 32×32 inputs; a global
 * pool (BackdoorBench's adaptive variant) is used for every size. Parameter names follow the
 * PyTorch module paths (BN leaves: gamma, beta, runningMean, runningVar).
 */
export const buildPreActResNet18: ArchitectureBuilder = (config, reg) => {
  const stem = new Conv2d(reg, 'conv1', config.inputShape, { filters: 64, kernel: 3 });
  let shape = stem.outShape;
  const layers = [64, 128, 256, 512].map((planes, i) => {
    const name = `layer${i + 1}`;
    const blocks = [i === 0 ? 1 : 2, 1].map((stride, j) => {
      const block = new PreActBlock(reg, `${name}.${j}`, shape, planes, stride);
      shape = block.outShape;
      return block;
    });
    return { name, blocks };
  });
  const linear = new Dense(reg, 'linear', shape[2], config.numClasses, 'torch');
  return {
    activationNames: layers.map((l) => l.name),
    // The block output adds the identity shortcut to conv2's output; no BN follows conv2.
    lastConv: { weight: 'layer4.1.conv2.weight', activation: 'layer4' },
    run(x, training, tap) {
      let h = stem.apply(x);
      for (const layer of layers) {
        for (const block of layer.blocks) h = block.apply(h, training);
        tap(layer.name, h);
      }
      const features = globalAvgPool(h);
      return { logits: linear.apply(features), features };
    },
  };
};
