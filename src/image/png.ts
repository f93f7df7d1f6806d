import { PNG } from 'pngjs';
import { imageSize, type Dataset } from '../data/dataset';
import type { RawImage } from './image';

/** PNG bytes of a uint8 HWC image with 1 (grayscale) or 3 (RGB) channels. */
export function encodePng(img: RawImage): Buffer {
  const { width, height, channels, data } = img;
  if (channels !== 1 && channels !== 3) throw new Error(`encodePng: expected 1 or 3 channels, got ${channels}`);
  if (data.length !== width * height * channels) {
    throw new Error(`encodePng: ${data.length} bytes for a ${width}×${height}×${channels} image`);
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.length);
  const colorType = channels === 1 ? 0 : 2;
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false });
}

/**
 * Decode a PNG to uint8 HWC: 1 channel for grayscale files, else 3 (RGB). An alpha channel
 * is dropped, not composited, since dataset images have no meaningful transparency. `file`
 * names the source in errors.
 */
export function decodePng(bytes: Uint8Array, file: string): RawImage {
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch (e) {
    throw new Error(`${file}: broken PNG: ${(e as Error).message}`, { cause: e });
  }
  const { width, height } = png;
  const channels = png.color ? 3 : 1;
  const rgba = png.data;
  const data = new Uint8Array(width * height * channels);
  for (let i = 0, o = 0; i < width * height; i++) {
    for (let k = 0; k < channels; k++) data[o++] = rgba[4 * i + k];
  }
  return { width, height, channels, data };
}

export interface PreviewOptions {
  /** Images shown per class (one row per class); default 8. */
  perClass?: number;
  /** Integer magnification (nearest neighbour); default 2. */
  scale?: number;
}

const GAP = 2;
const BACKGROUND = 32;

/**
 * A PNG contact sheet: row r shows the first `perClass` images of class r in dataset order,
 * separated by dark gaps; classes with fewer images leave their row short.
 */
export function previewGrid(ds: Dataset, opts: PreviewOptions = {}): Buffer {
  const perClass = opts.perClass ?? 8;
  const scale = opts.scale ?? 2;
  if (!(Number.isInteger(perClass) && perClass > 0)) throw new Error(`previewGrid: perClass must be a positive integer, got ${perClass}`);
  if (!(Number.isInteger(scale) && scale > 0)) throw new Error(`previewGrid: scale must be a positive integer, got ${scale}`);
  const [, h, w, c] = ds.shape;
  if (c !== 1 && c !== 3) throw new Error(`previewGrid: ${ds.name} has ${c} channels, expected 1 or 3`);
  const rows = ds.classNames.length;
  if (ds.labels.length === 0) throw new Error(`previewGrid: ${ds.name}/${ds.split} has no images`);

  const cellW = w * scale;
  const cellH = h * scale;
  const width = perClass * cellW + (perClass + 1) * GAP;
  const height = rows * cellH + (rows + 1) * GAP;
  const out = new Uint8Array(width * height * c).fill(BACKGROUND);
  const size = imageSize(ds);
  const placed = new Array<number>(rows).fill(0);
  for (let i = 0; i < ds.labels.length; i++) {
    const y = ds.labels[i];
    const col = placed[y];
    if (col >= perClass) continue;
    placed[y]++;
    const img = ds.images.subarray(i * size, (i + 1) * size);
    const x0 = GAP + col * (cellW + GAP);
    const y0 = GAP + y * (cellH + GAP);
    for (let py = 0; py < cellH; py++) {
      const srcRow = Math.floor(py / scale) * w * c;
      let o = ((y0 + py) * width + x0) * c;
      for (let px = 0; px < cellW; px++) {
        const s = srcRow + Math.floor(px / scale) * c;
        for (let k = 0; k < c; k++) out[o++] = img[s + k];
      }
    }
  }
  return encodePng({ width, height, channels: c, data: out });
}
