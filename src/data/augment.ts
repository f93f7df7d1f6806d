import { type ImageSet, pixelScale } from './dataset';
import type { Rng } from '../rng';

export interface AugmentConfig {
  /** zero padding for random crops (4 for CIFAR-style training); 0 disables cropping */
  cropPadding: number;
  /** random horizontal flips (off for GTSRB, whose signs are not mirror-symmetric) */
  flip: boolean;
  /** maximum rotation in degrees, uniformly in ±rotation; 0 disables */
  rotation: number;
}

export const NO_AUGMENT: AugmentConfig = { cropPadding: 0, flip: false, rotation: 0 };

/**
 * Gathers the images at `indices` into a float32 NHWC batch in [0, 1], augmenting each one on
 * the fly: only the batch is ever materialised as floats, never a copy of the dataset.
 */
export function makeBatch(ds: ImageSet, indices: ArrayLike<number>, aug: AugmentConfig = NO_AUGMENT, rng?: Rng): Float32Array {
  const [, h, w, c] = ds.shape;
  const size = h * w * c;
  const out = new Float32Array(indices.length * size);
  // Bytes are divided by 255 as before (not multiplied by 1/255, which rounds differently); floats by 1, exactly.
  const scale = pixelScale(ds);
  const augmenting = aug.cropPadding > 0 || aug.flip || aug.rotation > 0;
  if (augmenting && !rng) throw new Error('makeBatch: augmentation needs an Rng');
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b] * size;
    const dst = b * size;
    if (!augmenting) {
      for (let k = 0; k < size; k++) out[dst + k] = ds.images[src + k] / scale;
      continue;
    }
    const r = rng!;
    const dy = aug.cropPadding > 0 ? r.int(2 * aug.cropPadding + 1) - aug.cropPadding : 0;
    const dx = aug.cropPadding > 0 ? r.int(2 * aug.cropPadding + 1) - aug.cropPadding : 0;
    const flip = aug.flip && r.bernoulli(0.5);
    const angle = aug.rotation > 0 ? (r.uniform(-aug.rotation, aug.rotation) * Math.PI) / 180 : 0;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const cy = (h - 1) / 2;
    const cx = (w - 1) / 2;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        // Output pixel (y, x) reads the source at the inverse transform: flip, shift, rotate.
        const xf = flip ? w - 1 - x : x;
        const ty = y + dy - cy;
        const tx = xf + dx - cx;
        const sy = cos * ty + sin * tx + cy;
        const sx = -sin * ty + cos * tx + cx;
        const o = dst + (y * w + x) * c;
        if (angle === 0) {
          const iy = Math.round(sy);
          const ix = Math.round(sx);
          if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
          const s = src + (iy * w + ix) * c;
          for (let k = 0; k < c; k++) out[o + k] = ds.images[s + k] / scale;
          continue;
        }
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const fy = sy - y0;
        const fx = sx - x0;
        for (let k = 0; k < c; k++) {
          let v = 0;
          for (const [yy, xx, wgt] of [
            [y0, x0, (1 - fy) * (1 - fx)],
            [y0, x0 + 1, (1 - fy) * fx],
            [y0 + 1, x0, fy * (1 - fx)],
            [y0 + 1, x0 + 1, fy * fx],
          ] as const) {
            if (yy >= 0 && yy < h && xx >= 0 && xx < w) v += wgt * ds.images[src + (yy * w + xx) * c + k];
          }
          out[o + k] = v / scale;
        }
      }
    }
  }
  return out;
}
