import * as tf from '@tensorflow/tfjs-core';
import { makeBatch } from '../../data/augment';
import { type Dataset, imageSize } from '../../data/dataset';
import type { RawImage } from '../../image/image';
import { encodePng } from '../../image/png';
import { drawText, textHeight, textWidth } from '../../image/text';
import type { StaticAttack } from './attack';

export interface GalleryOptions {
  /** the dataset image shown in every row; default 0 */
  index?: number;
  /** the norms are averaged over the first `normImages` images of the dataset; default 100 */
  normImages?: number;
  /** factor applied to |x' − x| in the third column; default 10 */
  amplify?: number;
  /** integer magnification of the images; default the smallest that makes them ≥ 64 px wide */
  scale?: number;
}

/** Mean per-image size of a trigger's perturbation x' − x, in [0, 1] pixel units over all channels. */
export interface PerturbationNorms {
  attack: string;
  linf: number;
  l2: number;
  images: number;
}

export interface Gallery {
  /** rows = attacks, columns = clean / triggered / amplified |difference|, labelled */
  png: Buffer;
  norms: PerturbationNorms[];
}

const GAP = 4;
const BACKGROUND = 32;
const TEXT_SCALE = 2;

/**
 * One figure showing what each attack does to the same image, and how large its perturbation is.
 * The triggered image is shown rounded to uint8, as poisoned data stores it; the norms are taken
 * before rounding, as the trigger defines them.
 */
export function backdoorGallery(ds: Dataset, attacks: readonly StaticAttack[], opts: GalleryOptions = {}): Gallery {
  const [n, h, w, c] = ds.shape;
  const index = opts.index ?? 0;
  const amplify = opts.amplify ?? 10;
  const normImages = Math.min(opts.normImages ?? 100, n);
  const scale = opts.scale ?? Math.max(1, Math.ceil(64 / w));
  if (attacks.length === 0) throw new Error('backdoorGallery: no attacks given');
  if (c !== 1 && c !== 3) throw new Error(`backdoorGallery: ${ds.name} has ${c} channels, expected 1 or 3`);
  if (!(Number.isInteger(index) && index >= 0 && index < n)) throw new Error(`backdoorGallery: index ${index} outside [0, ${n})`);
  if (!(Number.isInteger(scale) && scale > 0)) throw new Error(`backdoorGallery: scale must be a positive integer, got ${scale}`);
  if (!(amplify > 0)) throw new Error(`backdoorGallery: amplify must be positive, got ${amplify}`);
  if (normImages < 1) throw new Error(`backdoorGallery: normImages must be ≥ 1, got ${opts.normImages}`);

  const size = imageSize(ds);
  const clean = ds.images.subarray(index * size, (index + 1) * size);
  const batchIdx = Int32Array.from({ length: normImages + 1 }, (_, i) => (i === 0 ? index : i - 1));
  const cells: Uint8Array[][] = [];
  const norms: PerturbationNorms[] = [];
  for (const attack of attacks) {
    const { shown, linf, l2 } = tf.tidy(() => {
      const x = tf.tensor4d(makeBatch(ds, batchIdx), [batchIdx.length, h, w, c]);
      const xt = attack.trigger.apply(x);
      const d = tf.slice(tf.sub(xt, x), [1, 0, 0, 0]);
      return {
        shown: tf.slice(xt, [0, 0, 0, 0], [1, h, w, c]).dataSync() as Float32Array,
        linf: tf.mean(tf.max(tf.abs(d), [1, 2, 3])).dataSync()[0],
        l2: tf.mean(tf.sqrt(tf.sum(tf.square(d), [1, 2, 3]))).dataSync()[0],
      };
    });
    const triggered = Uint8Array.from(shown, (v) => Math.min(255, Math.max(0, Math.round(v * 255))));
    const diff = Uint8Array.from(triggered, (v, k) => Math.min(255, Math.abs(v - clean[k]) * amplify));
    cells.push([clean, triggered, diff]);
    norms.push({ attack: attack.name, linf, l2, images: normImages });
  }
  const headers = ['clean', 'triggered', `|diff| ×${amplify}`];
  return {
    png: encodePng(
      layout(
        cells,
        attacks.map((a) => a.name),
        headers,
        [h, w, c],
        scale,
      ),
    ),
    norms,
  };
}

/** A Markdown table of the norms, for reports. */
export function normsTable(norms: readonly PerturbationNorms[]): string {
  const rows = norms.map((r) => `| ${r.attack} | ${r.linf.toFixed(4)} | ${r.l2.toFixed(4)} | ${r.images} |`);
  return ['| attack | mean L∞ | mean L2 | images |', '|---|---|---|---|', ...rows].join('\n');
}

function layout(cells: Uint8Array[][], rowLabels: string[], headers: string[], [h, w, c]: number[], scale: number): RawImage {
  const cellW = Math.max(w * scale, ...headers.map((t) => textWidth(t, TEXT_SCALE)));
  const cellH = h * scale;
  const labelW = Math.max(...rowLabels.map((t) => textWidth(t, TEXT_SCALE)));
  const headerH = textHeight(TEXT_SCALE);
  const width = labelW + headers.length * (cellW + GAP) + 2 * GAP;
  const height = headerH + rowLabels.length * (cellH + GAP) + 2 * GAP;
  const img: RawImage = { width, height, channels: c, data: new Uint8Array(width * height * c).fill(BACKGROUND) };
  const colX = (j: number) => labelW + 2 * GAP + j * (cellW + GAP);
  headers.forEach((t, j) => drawText(img, t, colX(j) + Math.floor((cellW - textWidth(t, TEXT_SCALE)) / 2), GAP, { scale: TEXT_SCALE }));
  rowLabels.forEach((label, r) => {
    const top = headerH + 2 * GAP + r * (cellH + GAP);
    drawText(img, label, GAP, top + Math.floor((cellH - headerH) / 2), { scale: TEXT_SCALE });
    cells[r].forEach((pixels, j) => {
      const left = colX(j) + Math.floor((cellW - w * scale) / 2);
      for (let py = 0; py < cellH; py++) {
        const src = Math.floor(py / scale) * w * c;
        let o = ((top + py) * width + left) * c;
        for (let px = 0; px < w * scale; px++) {
          const s = src + Math.floor(px / scale) * c;
          for (let k = 0; k < c; k++) img.data[o++] = pixels[s + k];
        }
      }
    });
  });
  return img;
}
