import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadTensors, saveTensors } from '../../src/io/checkpoint';
import { useBackend } from '../helpers/backend';

describe('checkpoint folders (model.json + weights.bin)', () => {
  let dir: string;
  useBackend('wasm');
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips named tensors of several dtypes and the metadata', async () => {
    const a = tf.tensor2d([
      [1.5, -2],
      [3, 4.25],
    ]);
    const b = tf.tensor1d([7, 8, 9], 'int32');
    await saveTensors(
      dir,
      [
        { name: 'layer.w', tensor: a },
        { name: 'step', tensor: b },
      ],
      { epoch: 3 },
    );
    assert.deepEqual(fs.readdirSync(dir).sort(), ['model.json', 'weights.bin']);
    const { tensors, metadata } = await loadTensors(dir);
    assert.deepEqual(metadata, { epoch: 3 });
    assert.deepEqual(tensors['layer.w'].arraySync(), [
      [1.5, -2],
      [3, 4.25],
    ]);
    assert.equal(tensors.step.dtype, 'int32');
    assert.deepEqual(tensors.step.arraySync(), [7, 8, 9]);
    tf.dispose([a, b, ...Object.values(tensors)]);
  });

  it('refuses corrupted weights and a missing model.json', async () => {
    const a = tf.ones([16]);
    await saveTensors(dir, [{ name: 'w', tensor: a }]);
    const bin = path.join(dir, 'weights.bin');
    const bytes = fs.readFileSync(bin);
    bytes[3] ^= 1;
    fs.writeFileSync(bin, bytes);
    await assert.rejects(loadTensors(dir), /weights\.bin: checksum does not match/);
    fs.rmSync(path.join(dir, 'model.json'));
    await assert.rejects(loadTensors(dir), /model\.json is missing/);
    await assert.rejects(
      saveTensors(dir, [
        { name: 'w', tensor: a },
        { name: 'w', tensor: a },
      ]),
      /duplicate tensor name 'w'/,
    );
    a.dispose();
  });
});
