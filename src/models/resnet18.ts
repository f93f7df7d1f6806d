import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d, Conv2d, Dense, globalAvgPool, MaxPool, relu, type Shape3 } from '../nn/layers';
import type { ParameterStore } from '../nn/parameters';
import type { ArchitectureBuilder } from './model';

/** torchvision BasicBlock: conv3×3-BN-ReLU-conv3×3-BN, plus the (projected) input, then ReLU. */
class BasicBlock {
  readonly outShape: Shape3;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly downsample: { conv: Conv2d; bn: BatchNorm2d } | null;

  constructor(reg: ParameterStore, name: string, inShape: Shape3, planes: number, stride: number) {
    this.conv1 = new Conv2d(reg, `${name}.conv1`, inShape, { filters: planes, kernel: 3, stride });
    this.bn1 = new BatchNorm2d(reg, `${name}.bn1`, planes);
    this.conv2 = new Conv2d(reg, `${name}.conv2`, this.conv1.outShape, { filters: planes, kernel: 3 });
    this.bn2 = new BatchNorm2d(reg, `${name}.bn2`, planes);
    this.downsample =
      stride !== 1 || inShape[2] !== planes
        ? {
            conv: new Conv2d(reg, `${name}.downsample.0`, inShape, { filters: planes, kernel: 1, stride, padding: 0 }),
            bn: new BatchNorm2d(reg, `${name}.downsample.1`, planes),
          }
        : null;
    this.outShape = this.conv2.outShape;
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const h = relu(this.bn1.apply(this.conv1.apply(x), training));
    const out = this.bn2.apply(this.conv2.apply(h), training);
    const skip = this.downsample ? this.downsample.bn.apply(this.downsample.conv.apply(x), training) : x;
    return relu(tf.add(out, skip));
  }
}

/**
 * torchvision's ResNet-18, for 64×64 and larger inputs (Tiny-ImageNet): conv7×7(64)/2-BN-ReLU,
 * maxpool3×3/2, four stages of two BasicBlocks (64, 128, 256, 512; strides 1, 2, 2, 2; 1×1
 * conv + BN projection when the shape changes), global average pool, fc(K). Parameter names
 * follow torchvision's module paths (BN leaves: gamma, beta, runningMean, runningVar).
 */
export const buildResNet18: ArchitectureBuilder = (config, reg) => {
  const stem = new Conv2d(reg, 'conv1', config.inputShape, { filters: 64, kernel: 7, stride: 2 });
  const bn1 = new BatchNorm2d(reg, 'bn1', 64);
  const pool = new MaxPool('maxpool', stem.outShape, 3, 2, 1);
  let shape = pool.outShape;
  const layers = [64, 128, 256, 512].map((planes, i) => {
    const name = `layer${i + 1}`;
    const blocks = [i === 0 ? 1 : 2, 1].map((stride, j) => {
      const block = new BasicBlock(reg, `${name}.${j}`, shape, planes, stride);
      shape = block.outShape;
      return block;
    });
    return { name, blocks };
  });
  const fc = new Dense(reg, 'fc', shape[2], config.numClasses, 'torch');
  return {
    activationNames: layers.map((l) => l.name),
    // The block output adds the shortcut to bn2(conv2(·)) and applies ReLU.
    lastConv: { weight: 'layer4.1.conv2.weight', activation: 'layer4', batchNorm: 'layer4.1.bn2' },
    run(x, training, tap) {
      let h = pool.apply(relu(bn1.apply(stem.apply(x), training)));
      for (const layer of layers) {
        for (const block of layer.blocks) h = block.apply(h, training);
        tap(layer.name, h);
      }
      const features = globalAvgPool(h);
      return { logits: fc.apply(features), features };
    },
  };
};
