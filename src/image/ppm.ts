import type { RawImage } from './image';

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}

/**
 * Parse a PPM (netpbm) image: binary P6 or ASCII P3, maxval 255, into uint8 RGB HWC.
 * `file` names the source in errors.
 */
export function parsePpm(bytes: Uint8Array, file: string): RawImage {
  let pos = 0;
  const broken = (why: string): Error => new Error(`${file}: broken PPM header: ${why}`);

  /** The next header token, skipping whitespace and `#` comments. */
  const token = (what: string): string => {
    for (;;) {
      while (pos < bytes.length && isSpace(bytes[pos])) pos++;
      if (bytes[pos] !== 0x23) break;
      while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
    }
    const start = pos;
    while (pos < bytes.length && !isSpace(bytes[pos]) && bytes[pos] !== 0x23) pos++;
    if (pos === start) throw broken(`file ends before the ${what}`);
    return Buffer.from(bytes.subarray(start, pos)).toString('latin1');
  };
  const positiveInt = (what: string): number => {
    const t = token(what);
    if (!/^\d+$/.test(t) || Number(t) <= 0) throw broken(`${what} is '${t}', expected a positive integer`);
    return Number(t);
  };

  if (bytes.length < 2 || bytes[0] !== 0x50 || (bytes[1] !== 0x36 && bytes[1] !== 0x33)) {
    const magic = Buffer.from(bytes.subarray(0, 2)).toString('latin1');
    throw broken(`magic number is '${magic}', expected 'P6' (binary) or 'P3' (ASCII)`);
  }
  const binary = bytes[1] === 0x36;
  pos = 2;
  if (pos < bytes.length && !isSpace(bytes[pos]) && bytes[pos] !== 0x23) throw broken('no whitespace after the magic number');
  const width = positiveInt('width');
  const height = positiveInt('height');
  const maxval = positiveInt('maxval');
  if (maxval !== 255) throw new Error(`${file}: PPM maxval is ${maxval}, only 255 (8-bit samples) is supported`);
  const size = width * height * 3;

  if (binary) {
    // Exactly one whitespace byte separates the header from the samples, which may begin with a "space" value.
    if (pos >= bytes.length || !isSpace(bytes[pos])) throw broken('no whitespace after maxval');
    pos++;
    const available = bytes.length - pos;
    if (available < size) {
      throw new Error(`${file}: PPM ${width}×${height} needs ${size} bytes of pixels, found ${available} (truncated file?)`);
    }
    return { width, height, channels: 3, data: new Uint8Array(bytes.subarray(pos, pos + size)) };
  }

  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    let t: string;
    try {
      t = token('samples');
    } catch {
      throw new Error(`${file}: PPM ${width}×${height} needs ${size} samples, found ${i}`);
    }
    const v = /^\d+$/.test(t) ? Number(t) : NaN;
    if (!(v <= 255)) throw new Error(`${file}: PPM sample ${i} is '${t}', expected an integer in 0–255`);
    data[i] = v;
  }
  return { width, height, channels: 3, data };
}

/** Binary P6 bytes of an RGB HWC image (for fixtures and exports). */
export function encodePpm(img: RawImage): Buffer {
  if (img.channels !== 3) throw new Error(`encodePpm: expected 3 channels, got ${img.channels}`);
  const header = Buffer.from(`P6\n${img.width} ${img.height}\n255\n`, 'latin1');
  return Buffer.concat([header, img.data]);
}
