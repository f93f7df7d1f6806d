/** One decoded image: uint8 pixels, row-major HWC. */
export interface RawImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** The pixels of [x1, x2) × [y1, y2), clamped to the image; throws when that is empty. */
export function crop(img: RawImage, x1: number, y1: number, x2: number, y2: number, what = 'image'): RawImage {
  const left = Math.max(0, Math.floor(x1));
  const top = Math.max(0, Math.floor(y1));
  const right = Math.min(img.width, Math.ceil(x2));
  const bottom = Math.min(img.height, Math.ceil(y2));
  if (right <= left || bottom <= top) {
    throw new Error(`${what}: crop box (${x1}, ${y1})–(${x2}, ${y2}) is empty inside a ${img.width}×${img.height} image`);
  }
  const width = right - left;
  const height = bottom - top;
  const c = img.channels;
  const data = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * c;
    data.set(img.data.subarray(from, from + width * c), y * width * c);
  }
  return { width, height, channels: c, data };
}
