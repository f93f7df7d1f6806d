import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { backdoorGallery, normsTable } from '../../src/attacks/backdoor/gallery';
import { buildAttack } from '../../src/attacks/backdoor/registry';
import { loadMnist } from '../../src/data/mnist';
import { decodePng } from '../../src/image/png';
import { useBackend } from '../helpers/backend';

describe('trigger gallery', function () {
  useBackend('wasm');

  it('draws one labelled row per attack and measures each perturbation', () => {
    const { test } = loadMnist({ limitPerClass: 10 });
    const attacks = ['badnets', 'blend', 'sig', 'wanet'].map((name) =>
      buildAttack({ name, rule: { mode: 'all2one', target: 0, numClasses: 10 }, inputShape: [28, 28, 1], seed: 1 }),
    );
    const tensors = tf.memory().numTensors;
    const g = backdoorGallery(test, attacks, { normImages: 50 });
    assert.equal(tf.memory().numTensors, tensors, 'the gallery leaked tensors');

    const img = decodePng(g.png, 'gallery');
    assert.equal(img.channels, 1);
    // 28-pixel digits at 3× make 84-pixel cells; four rows of them plus the header.
    assert.ok(img.height >= 4 * 84 + 10 && img.width >= 3 * 84, `${img.width}×${img.height}`);

    const norms = Object.fromEntries(g.norms.map((r) => [r.attack, r]));
    assert.deepEqual(Object.keys(norms), ['badnets', 'blend', 'sig', 'wanet']);
    // MNIST corners are black: the patch adds five 1s, so L∞ = 1 and L2 = √5 exactly.
    assert.ok(Math.abs(norms.badnets.linf - 1) < 1e-6 && Math.abs(norms.badnets.l2 - Math.sqrt(5)) < 1e-5, JSON.stringify(norms.badnets));
    assert.ok(norms.blend.linf > 0.1 && norms.blend.linf <= 0.2 + 1e-6, `blend L∞ ${norms.blend.linf}`);
    assert.ok(norms.sig.linf > 0.5 * (20 / 255) && norms.sig.linf <= 20 / 255 + 1e-6, `sig L∞ ${norms.sig.linf}`);
    assert.ok(norms.wanet.linf > 0 && norms.wanet.l2 < norms.blend.l2 * 2, `wanet ${JSON.stringify(norms.wanet)}`);
    assert.ok(g.norms.every((r) => r.images === 50));
    assert.match(normsTable(g.norms), /\| badnets \| 1\.0000 \| 2\.2361 \| 50 \|/);
    attacks.forEach((a) => a.trigger.dispose());
  });

  it('rejects an empty attack list and an index outside the dataset', () => {
    const { test } = loadMnist({ limitPerClass: 1 });
    const a = buildAttack({ name: 'badnets', rule: { mode: 'all2one', target: 0, numClasses: 10 }, inputShape: [28, 28, 1], seed: 1 });
    assert.throws(() => backdoorGallery(test, []), /no attacks given/);
    assert.throws(() => backdoorGallery(test, [a], { index: 10 }), /index 10 outside \[0, 10\)/);
  });
});
