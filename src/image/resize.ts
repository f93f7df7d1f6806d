import type { RawImage } from './image';

/**
 * Bilinear resize with half-pixel centres, the sampling of
 * `tf.image.resizeBilinear(x, size, false, true)`: output pixel i samples source coordinate
 * (i + 0.5) · in/out − 0.5, clamped to the edge pixels. Values are rounded to the nearest
 * integer (tfjs returns floats), so results are deterministic and independent of any backend.
 */
export function resizeBilinear(img: RawImage, outHeight: number, outWidth: number): RawImage {
  const { width: inW, height: inH, channels: c, data: src } = img;
  if (!(Number.isInteger(outHeight) && outHeight > 0 && Number.isInteger(outWidth) && outWidth > 0)) {
    throw new Error(`resizeBilinear: target size must be positive integers, got ${outHeight}×${outWidth}`);
  }
  if (!(inW > 0 && inH > 0)) throw new Error(`resizeBilinear: empty ${inH}×${inW} input`);
  if (inW === outWidth && inH === outHeight) return { ...img, data: img.data.slice() };

  const cols = axisTaps(inW, outWidth);
  const out = new Uint8Array(outHeight * outWidth * c);
  const rowRatio = inH / outHeight;
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    const fy = rowRatio * (y + 0.5) - 0.5;
    const y0 = Math.max(0, Math.floor(fy));
    const y1 = Math.min(inH - 1, Math.ceil(fy));
    const wy = fy - y0;
    const top = y0 * inW * c;
    const bottom = y1 * inW * c;
    for (let x = 0; x < outWidth; x++) {
      const left = cols.lo[x] * c;
      const right = cols.hi[x] * c;
      const wx = cols.frac[x];
      for (let k = 0; k < c; k++) {
        const tl = src[top + left + k];
        const tr = src[top + right + k];
        const bl = src[bottom + left + k];
        const br = src[bottom + right + k];
        const t = tl + (tr - tl) * wx;
        const b = bl + (br - bl) * wx;
        out[o++] = Math.round(t + (b - t) * wy);
      }
    }
  }
  return { width: outWidth, height: outHeight, channels: c, data: out };
}

/** Per output column: the two source columns and the weight of the second, as tfjs computes them. */
function axisTaps(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  const ratio = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const f = ratio * (i + 0.5) - 0.5;
    lo[i] = Math.max(0, Math.floor(f));
    hi[i] = Math.min(inSize - 1, Math.ceil(f));
    frac[i] = f - lo[i];
  }
  return { lo, hi, frac };
}
