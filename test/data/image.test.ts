import assert from 'node:assert/strict';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { getKernel, type TensorInfo } from '@tensorflow/tfjs-core';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { Dataset } from '../../src/data/dataset';
import { crop } from '../../src/image/image';
import { decodeJpeg } from '../../src/image/jpeg';
import { decodePng, encodePng, previewGrid } from '../../src/image/png';
import { encodePpm, parsePpm } from '../../src/image/ppm';
import { resizeBilinear } from '../../src/image/resize';
import { Rng } from '../../src/rng';

describe('image/png', () => {
  it('round-trips RGB and grayscale images exactly', () => {
    const rng = new Rng('png');
    for (const channels of [1, 3]) {
      const img = { width: 7, height: 5, channels, data: Uint8Array.from({ length: 7 * 5 * channels }, () => rng.int(256)) };
      const png = encodePng(img);
      assert.deepEqual(png.subarray(1, 4).toString('latin1'), 'PNG');
      const back = decodePng(png, 'roundtrip.png');
      assert.equal(back.channels, channels);
      assert.equal(back.width, 7);
      assert.equal(back.height, 5);
      assert.deepEqual(back.data, img.data);
    }
  });

  it('rejects bad input with clear errors', () => {
    assert.throws(() => encodePng({ width: 2, height: 2, channels: 4, data: new Uint8Array(16) }), /expected 1 or 3 channels/);
    assert.throws(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) }), /5 bytes for a 2×2×3/);
    assert.throws(() => decodePng(Buffer.from('not a png'), 'x.png'), /x\.png: broken PNG/);
  });

  it('previewGrid lays out one row per class, first images in dataset order', () => {
    // Image i is filled with value 10·i; labels 1, 0, 1, 1, 0 → row 0: images 1, 4; row 1: 0, 2 (3 is beyond perClass).
    const labels = Int32Array.from([1, 0, 1, 1, 0]);
    const images = new Uint8Array(5 * 2 * 3 * 1);
    for (let i = 0; i < 5; i++) images.fill(10 * (i + 1), i * 6, (i + 1) * 6);
    const ds: Dataset = { name: 't', split: 'train', images, shape: [5, 2, 3, 1], labels, classNames: ['a', 'b'], source: 'test' };
    const png = PNG.sync.read(previewGrid(ds, { perClass: 2, scale: 2 }));
    const cellW = 3 * 2;
    const cellH = 2 * 2;
    const gap = 2;
    assert.equal(png.width, 2 * cellW + 3 * gap);
    assert.equal(png.height, 2 * cellH + 3 * gap);
    const at = (x: number, y: number): number => png.data[(y * png.width + x) * 4];
    const cell = (row: number, col: number): number => at(gap + col * (cellW + gap) + 1, gap + row * (cellH + gap) + 1);
    assert.deepEqual([cell(0, 0), cell(0, 1), cell(1, 0), cell(1, 1)], [20, 50, 10, 30]);
    assert.equal(at(0, 0), 32, 'gap background');
  });
});

describe('image/ppm', () => {
  const img = { width: 3, height: 2, channels: 3, data: Uint8Array.from({ length: 18 }, (_, i) => i * 14) };

  it('parses binary P6, including comments and a first sample that looks like whitespace', () => {
    const data = img.data.slice();
    data[0] = 0x0a;
    const bytes = Buffer.concat([Buffer.from('P6\n# made by a test\n3 2\n255\n'), data]);
    const out = parsePpm(bytes, 'a.ppm');
    assert.deepEqual([out.width, out.height, out.channels], [3, 2, 3]);
    assert.deepEqual(out.data, data);
    assert.deepEqual(parsePpm(encodePpm(img), 'b.ppm').data, img.data);
  });

  it('parses ASCII P3', () => {
    const text = `P3 3 2 255\n${Array.from(img.data).join(' ')}\n`;
    assert.deepEqual(parsePpm(Buffer.from(text), 'c.ppm').data, img.data);
  });

  it('names the file and the problem on broken input', () => {
    assert.throws(() => parsePpm(Buffer.from('GIF89a....'), 'x/bad.ppm'), /x\/bad\.ppm: broken PPM header: magic number is 'GI'/);
    assert.throws(() => parsePpm(Buffer.from('P6\n3'), 'bad.ppm'), /bad\.ppm: broken PPM header: file ends before the height/);
    assert.throws(() => parsePpm(Buffer.from('P6\n3 x\n255\n'), 'bad.ppm'), /bad\.ppm: broken PPM header: height is 'x'/);
    assert.throws(() => parsePpm(Buffer.from('P6\n3 2\n65535\n'), 'deep.ppm'), /deep\.ppm: PPM maxval is 65535, only 255/);
    const short = Buffer.concat([Buffer.from('P6\n3 2\n255\n'), Buffer.alloc(10)]);
    assert.throws(() => parsePpm(short, 'short.ppm'), /short\.ppm: PPM 3×2 needs 18 bytes of pixels, found 10/);
    assert.throws(() => parsePpm(Buffer.from('P3 1 1 255 1 2'), 'p3.ppm'), /p3\.ppm: PPM 1×1 needs 3 samples, found 2/);
    assert.throws(() => parsePpm(Buffer.from('P3 1 1 255 1 2 300'), 'p3.ppm'), /p3\.ppm: PPM sample 2 is '300'/);
  });
});

describe('image/jpeg', () => {
  it('decodes a JPEG to RGB HWC', () => {
    const rgba = Buffer.alloc(8 * 8 * 4);
    for (let i = 0; i < 64; i++) rgba.set([200, 40, 90, 255], i * 4);
    const out = decodeJpeg(jpeg.encode({ data: rgba, width: 8, height: 8 }, 100).data, 'a.jpg');
    assert.deepEqual([out.width, out.height, out.channels, out.data.length], [8, 8, 3, 192]);
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(out.data[k] - [200, 40, 90][k]) <= 3, `channel ${k}: ${out.data[k]}`);
  });

  it('names the file on broken JPEGs', () => {
    assert.throws(() => decodeJpeg(Buffer.from('hello world'), 'dir/x.JPEG'), /dir\/x\.JPEG: not a JPEG/);
    const good = jpeg.encode({ data: Buffer.alloc(16 * 16 * 4, 128), width: 16, height: 16 }, 90).data;
    const broken = Buffer.from(good);
    broken.fill(0xff, 2, 40); // wipes the first marker segments after SOI
    assert.throws(() => decodeJpeg(broken, 'dir/y.JPEG'), /dir\/y\.JPEG: broken JPEG/);
  });
});

describe('image/resize', () => {
  it('matches a hand-worked 2×2 → 4×4 bilinear resize with half-pixel centres', () => {
    // Source rows sample at y = -0.25, 0.25, 0.75, 1.25 (clamped), likewise columns; e.g.
    // out[1][1] = 0.75·(0.75·0 + 0.25·100) + 0.25·(0.75·200 + 0.25·40) = 58.75 → 59.
    const img = { width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 100, 200, 40]) };
    const out = resizeBilinear(img, 4, 4);
    assert.deepEqual(Array.from(out.data), [0, 25, 75, 100, 50, 59, 76, 85, 150, 126, 79, 55, 200, 160, 80, 40]);
  });

  it('agrees with the tfjs ResizeBilinear kernel (halfPixelCenters=true) within rounding', () => {
    // A private cpu backend runs the kernel without touching the global tfjs backend other tests set.
    const cpu = new MathBackendCPU();
    const kernel = getKernel('ResizeBilinear', 'cpu');
    assert.ok(kernel, 'the cpu backend registers ResizeBilinear');
    const rng = new Rng('resize');
    for (const [h, w, c, oh, ow] of [
      [5, 7, 3, 32, 32],
      [40, 33, 3, 32, 32],
      [6, 6, 1, 4, 9],
    ]) {
      const img = { width: w, height: h, channels: c, data: Uint8Array.from({ length: h * w * c }, () => rng.int(256)) };
      const mine = resizeBilinear(img, oh, ow).data;
      const shape = [1, h, w, c];
      const images: TensorInfo = { dataId: cpu.write(Float32Array.from(img.data), shape, 'float32'), shape, dtype: 'float32' };
      const attrs = { alignCorners: false, halfPixelCenters: true, size: [oh, ow] };
      const out = kernel.kernelFunc({ inputs: { images }, backend: cpu, attrs }) as TensorInfo;
      const ref = cpu.readSync(out.dataId) as Float32Array;
      assert.deepEqual(out.shape, [1, oh, ow, c]);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(mine[i] - ref[i]));
      assert.ok(worst <= 0.5 + 1e-3, `${h}×${w} → ${oh}×${ow}: max |diff| ${worst}`);
    }
  });

  it('crop takes [x1, x2) × [y1, y2), clamped to the image', () => {
    const img = { width: 4, height: 3, channels: 1, data: Uint8Array.from({ length: 12 }, (_, i) => i) };
    assert.deepEqual(Array.from(crop(img, 1, 1, 3, 3).data), [5, 6, 9, 10]);
    assert.deepEqual(Array.from(crop(img, 2, 0, 99, 1).data), [2, 3]);
    assert.throws(() => crop(img, 3, 1, 3, 2, 'f.csv:2 ROI'), /f\.csv:2 ROI: crop box .* is empty/);
  });
});
