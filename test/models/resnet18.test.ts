import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers/backend';
import type { ModelConfig } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { checkBatchCoupling, checkForward, images, paramCount } from './helpers';

const TINY: ModelConfig = { arch: 'resnet18', inputShape: [64, 64, 3], numClasses: 200 };

// Forward passes of an 11M-parameter net take seconds each on the cpu backend: these run on wasm.
describe('models/resnet18 (wasm)', function () {
  useBackend('wasm');

  it("has torchvision's 11,689,512 parameters for K = 1000 and 3.63 GFLOPs at 224×224", () => {
    const model = createModel({ arch: 'resnet18', inputShape: [224, 224, 3], numClasses: 1000 }, 1);
    assert.equal(paramCount(model), 11_689_512);
    // torchvision's ResNet-18 is quoted at 1.81 G multiply-adds.
    assert.ok(Math.abs(model.forwardFlops() / 2 / 1.814e9 - 1) < 0.001, `${model.forwardFlops()} FLOPs`);
    assert.deepEqual(model.params.get('layer3.0.downsample.0.weight')!.shape, [1, 1, 128, 256]);
    assert.ok(model.params.has('layer3.0.downsample.1.gamma') && model.state.has('layer3.0.downsample.1.runningVar'));
    model.dispose();
  });

  it('returns logits, pooled 512-d features and layer1..layer4 activations for 64×64 inputs', () => {
    const model = createModel(TINY, 2);
    const x = images('resnet-shapes', 2, TINY.inputShape);
    checkForward(model, x, 512, {
      layer1: [16, 16, 64],
      layer2: [8, 8, 128],
      layer3: [4, 4, 256],
      layer4: [2, 2, 512],
    });
    assert.deepEqual(model.lastConv, { weight: 'layer4.1.conv2.weight', activation: 'layer4', batchNorm: 'layer4.1.bn2' });
    assert.ok(model.params.has('layer4.1.bn2.gamma'));
    const batch = images('resnet-bn', 3, TINY.inputShape);
    checkBatchCoupling(model, batch);
    tf.dispose([x, batch]);
    model.dispose();
  });
});
