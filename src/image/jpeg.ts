import * as jpeg from 'jpeg-js';
import type { RawImage } from './image';

/** Decode a JPEG to uint8 RGB HWC (grayscale and CMYK are converted); `file` names it in errors. */
export function decodeJpeg(bytes: Uint8Array, file: string): RawImage {
  if (bytes.length < 3 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new Error(`${file}: not a JPEG (no FF D8 start-of-image marker)`);
  }
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  } catch (e) {
    throw new Error(`${file}: broken JPEG: ${(e as Error).message}`, { cause: e });
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new Error(`${file}: broken JPEG: decoded ${data.length} bytes for ${width}×${height} RGB`);
  }
  return { width, height, channels: 3, data };
}
