import assert from 'node:assert/strict';
import { useBackend } from '../helpers/backend';
import type { Model, ModelConfig } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { checkBatchCoupling, checkForward, images, paramCount } from './helpers';

const CIFAR: ModelConfig = { arch: 'preact-resnet18', inputShape: [32, 32, 3], numClasses: 10 };

/** By hand, from Kuang Liu's PreActResNet18 (pytorch-cifar): every conv is bias-free. */
function expectedParams(k: number): number {
  const conv = (kernel: number, cin: number, cout: number) => kernel * kernel * cin * cout;
  const bn = (c: number) => 2 * c;
  const block = (cin: number, cout: number) => bn(cin) + conv(3, cin, cout) + bn(cout) + conv(3, cout, cout) + (cin !== cout ? conv(1, cin, cout) : 0);
  const stage = (cin: number, cout: number) => block(cin, cout) + block(cout, cout);
  return conv(3, 3, 64) + stage(64, 64) + stage(64, 128) + stage(128, 256) + stage(256, 512) + 512 * k + k;
}

// Forward passes of an 11M-parameter net take seconds each on the cpu backend: these run on wasm.
describe('models/preact-resnet18 (wasm)', function () {
  let model: Model;

  useBackend('wasm');

  before(async () => {
    model = createModel(CIFAR, 1);
  });

  after(() => {
    model.dispose();
  });

  it('has the 11,171,146 parameters of the PyTorch reference for K = 10, and no final BN', () => {
    assert.equal(expectedParams(10), 11_171_146);
    assert.equal(paramCount(model), 11_171_146);
    assert.equal(model.params.size, 1 + 8 * (2 + 2 * 2) + 3 + 2, 'tensors: stem, 8 blocks × (2 convs + 2 BNs × 2), 3 shortcuts, linear');
    assert.ok(!model.params.has('bn.gamma') && !model.params.has('bn1.gamma'), 'no BN outside the blocks');
    assert.deepEqual(model.params.get('layer2.0.shortcut.0.weight')!.shape, [1, 1, 64, 128]);
    assert.ok(!model.params.has('layer1.0.shortcut.0.weight') && !model.params.has('layer2.1.shortcut.0.weight'));
  });

  it('returns logits, pooled 512-d features and layer1..layer4 activations', () => {
    const x = images('preact-shapes', 2, CIFAR.inputShape);
    checkForward(model, x, 512, {
      layer1: [32, 32, 64],
      layer2: [16, 16, 128],
      layer3: [8, 8, 256],
      layer4: [4, 4, 512],
    });
    assert.deepEqual(model.lastConv, { weight: 'layer4.1.conv2.weight', activation: 'layer4' });
    assert.deepEqual(model.params.get(model.lastConv.weight)!.shape, [3, 3, 512, 512]);
    x.dispose();
  });

  it('differs between eval and training mode through batch norm only', () => {
    const x = images('preact-bn', 3, CIFAR.inputShape);
    checkBatchCoupling(model, x);
    x.dispose();
  });
});
