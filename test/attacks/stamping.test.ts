import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { checkerboardValue } from '../../src/attacks/backdoor/badnets';
import { poisonTrainingSet } from '../../src/attacks/backdoor/poison';
import type { StampOrder, StaticAttack } from '../../src/attacks/backdoor/attack';
import { buildAttack, stampOrderOf } from '../../src/attacks/backdoor/registry';
import { asStored, trainingView } from '../../src/attacks/backdoor/stamping';
import { type AugmentConfig, NO_AUGMENT } from '../../src/data/augment';
import { loadMnist } from '../../src/data/mnist';
import { createModel } from '../../src/models/registry';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { train, type TrainConfig } from '../../src/train/trainer';
import { pipelineBackend, useBackend } from '../helpers/backend';
import { weightsOf } from '../helpers/weights';

const mnist = loadMnist({ limitPerClass: 30 });
const [H, W, C] = [28, 28, 1];
const SIZE = H * W * C;
/** crops and flips, the augmentation that moves a stored trigger */
const CROP_FLIP: AugmentConfig = { cropPadding: 2, flip: true, rotation: 0 };

function attack(name: string, options = {}): StaticAttack {
  return buildAttack({ name, rule: { mode: 'all2one', target: 0, numClasses: 10 }, inputShape: [H, W, C], seed: 5, options });
}

function trainConfig(augment: AugmentConfig): TrainConfig {
  return { epochs: 1, batchSize: 50, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 }, schedule: { kind: 'constant' }, augment };
}

interface SeenRow {
  index: number;
  /** the augmented clean image the trainer drew */
  drawn: Float32Array;
  /** what it trained on */
  trained: Float32Array;
  label: number;
}

/** Trains one epoch on the view of `order` and records, row by row, what the trainer drew and what it trained on. */
async function whatTheTrainerSees(
  a: StaticAttack,
  order: StampOrder,
  augment: AugmentConfig,
): Promise<{ rows: SeenRow[]; stamped: { poison: Int32Array; cross: Int32Array } }> {
  const poisoned = poisonTrainingSet(mnist.train, a, { rng: new Rng(3) });
  const view = trainingView(mnist.train, poisoned, a, order);
  const model = createModel({ arch: 'mnist-net', inputShape: [H, W, C], numClasses: 10 }, 'stamp-test');
  const rows: SeenRow[] = [];
  try {
    await train(model, view.data, trainConfig(augment), {
      seed: 9,
      progress: silentSink,
      prepareBatch: (m, batch, ctx) => {
        const drawn = (batch.x.dataSync() as Float32Array).slice();
        const tensors = tf.memory().numTensors;
        const out = view.prepareBatch?.(m, batch, ctx);
        if (out) assert.equal(tf.memory().numTensors, tensors + 1, 'stamping leaves exactly its new batch');
        const trained = (out ?? batch).x.dataSync() as Float32Array;
        const labels = (out ?? batch).y.dataSync();
        ctx.indices.forEach((index, r) =>
          rows.push({ index, drawn: drawn.slice(r * SIZE, (r + 1) * SIZE), trained: trained.slice(r * SIZE, (r + 1) * SIZE), label: labels[r] }),
        );
        return out;
      },
    });
  } finally {
    model.dispose();
  }
  return { rows, stamped: poisoned.stamped };
}

/** The trigger applied to one image on its own and rounded to the byte grid. */
function triggeredAlone(a: StaticAttack, image: Float32Array): Float32Array {
  return tf.tidy(() => asStored(a.trigger.apply(tf.tensor4d(image, [1, H, W, C])))).dataSync() as Float32Array;
}

/** Whether the bottom-right 3×3 pixels are exactly BadNets' checkerboard. */
function carriesPatch(image: Float32Array): boolean {
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) if (image[(H - 3 + r) * W + (W - 3 + c)] !== checkerboardValue(r, c)) return false;
  return true;
}

describe('stamping the trigger after augmentation', function () {
  useBackend(pipelineBackend());

  for (const name of ['badnets', 'blend', 'sig', 'wanet']) {
    it(`${name}: every poisoned sample the trainer sees is its drawn (cropped, flipped) image with the exact trigger; the others are untouched`, async () => {
      const a = attack(name);
      try {
        const { rows, stamped } = await whatTheTrainerSees(a, 'after-augment', CROP_FLIP);
        const poison = new Set(stamped.poison);
        const cross = new Set(stamped.cross);
        assert.equal(rows.length, mnist.train.shape[0], 'one epoch sees every image once');
        assert.deepEqual(
          rows
            .filter((r) => poison.has(r.index))
            .map((r) => r.index)
            .sort((x, y) => x - y),
          Array.from(stamped.poison),
        );
        let moved = 0;
        for (const r of rows) {
          if (poison.has(r.index)) {
            assert.deepEqual(r.trained, triggeredAlone(a, r.drawn), `${name}: image ${r.index} does not carry its trigger`);
            assert.equal(r.label, 0, `${name}: image ${r.index} is not labelled with the target`);
          } else if (cross.has(r.index)) {
            assert.notDeepEqual(r.trained, r.drawn, `wanet: noise-mode image ${r.index} was not warped`);
            assert.equal(r.label, mnist.train.labels[r.index], `wanet: noise-mode image ${r.index} lost its label`);
          } else {
            assert.deepEqual(r.trained, r.drawn, `${name}: clean image ${r.index} was changed`);
          }
          // The drawn image is augmented: the test would say nothing if nothing moved.
          const stored = Float32Array.from(mnist.train.images.subarray(r.index * SIZE, (r.index + 1) * SIZE), (v) => v / 255);
          if (r.drawn.some((v, k) => v !== stored[k])) moved++;
        }
        assert.ok(moved > rows.length / 2, `only ${moved} of ${rows.length} drawn images differ from the stored ones`);
      } finally {
        a.trigger.dispose();
      }
    });
  }

  it('badnets: after augmentation every poisoned sample has the checkerboard in its bottom-right corner; stamped before, crops and flips move it off', async () => {
    const a = attack('badnets');
    try {
      const share = async (order: StampOrder) => {
        const { rows, stamped } = await whatTheTrainerSees(a, order, CROP_FLIP);
        const poison = new Set(stamped.poison);
        const poisonedRows = rows.filter((r) => poison.has(r.index));
        return poisonedRows.filter((r) => carriesPatch(r.trained)).length / poisonedRows.length;
      };
      assert.equal(await share('after-augment'), 1);
      const before = await share('before-augment');
      // A flip (half the images) mirrors the patch to the other corner; a crop shifts it in 20 of 25 offsets.
      assert.ok(before < 0.3, `stamped before augmentation, ${(100 * before).toFixed(0)}% still carry the exact patch`);
    } finally {
      a.trigger.dispose();
    }
  });

  for (const [name, options] of [
    ['blend', {}],
    // Noise-mode images draw their noise per batch after augmentation, once per image before: only the trigger can agree.
    ['wanet', { crossRatio: 0 }],
  ] as const) {
    it(`${name}: without augmentation both orders train the same weights, bit for bit (stamped batches are rounded as stored images are)`, async () => {
      const a = attack(name, options);
      const weights: Record<string, Float32Array>[] = [];
      try {
        for (const order of ['after-augment', 'before-augment'] as const) {
          const poisoned = poisonTrainingSet(mnist.train, a, { rng: new Rng(3) });
          const view = trainingView(mnist.train, poisoned, a, order);
          const model = createModel({ arch: 'mnist-net', inputShape: [H, W, C], numClasses: 10 }, 'stamp-test');
          await train(model, view.data, trainConfig(NO_AUGMENT), { seed: 9, progress: silentSink, prepareBatch: view.prepareBatch });
          weights.push(weightsOf(model));
          model.dispose();
        }
      } finally {
        a.trigger.dispose();
      }
      assert.deepEqual(weights[0], weights[1]);
    });
  }

  it('the stamp order: after-augment by default; a bad value, or before-augment for the dynamic attack, is refused by name', () => {
    assert.equal(stampOrderOf({ name: 'blend' }), 'after-augment');
    assert.equal(stampOrderOf({ name: 'blend', stamp: 'before-augment' }), 'before-augment');
    assert.equal(stampOrderOf({ name: 'dynamic' }), 'after-augment');
    assert.throws(
      () => stampOrderOf({ name: 'blend', stamp: 'sideways' as StampOrder }),
      /attack stamp order: expected one of after-augment, before-augment, got 'sideways'/,
    );
    assert.throws(() => stampOrderOf({ name: 'dynamic', stamp: 'before-augment' }), /'dynamic' generates its trigger from each augmented image/);
  });
});
