import type { RawImage } from './image';

/**
 * A 3×5 pixel font, enough to label figures without a font file or a canvas library: A–Z
 * (lowercase is drawn as uppercase), digits and a little punctuation. Each glyph is five rows of
 * three pixels, '#' = ink.
 */
const GLYPHS: Record<string, string> = {
  A: '.#.#.#####.##.#',
  B: '##.#.###.#.###.',
  C: '.###..#..#...##',
  D: '##.#.##.##.###.',
  E: '####..##.#..###',
  F: '####..##.#..#..',
  G: '.###..#.##.#.##',
  H: '#.##.#####.##.#',
  I: '###.#..#..#.###',
  J: '..#..#..##.#.#.',
  K: '#.##.###.#.##.#',
  L: '#..#..#..#..###',
  M: '#.########.##.#',
  N: '##.#.##.##.##.#',
  O: '.#.#.##.##.#.#.',
  P: '##.#.###.#..#..',
  Q: '.#.#.##.###..##',
  R: '##.#.###.#.##.#',
  S: '.###...#...###.',
  T: '###.#..#..#..#.',
  U: '#.##.##.##.####',
  V: '#.##.##.##.#.#.',
  W: '#.##.########.#',
  X: '#.##.#.#.#.##.#',
  Y: '#.##.#.#..#..#.',
  Z: '###..#.#.#..###',
  '0': '####.##.##.####',
  '1': '.#.##..#..#.###',
  '2': '##...#.#.#..###',
  '3': '##...#.#...###.',
  '4': '#.##.####..#..#',
  '5': '####..##...###.',
  '6': '.###..####.####',
  '7': '###..#.#..#..#.',
  '8': '####.#####.####',
  '9': '####.####..###.',
  ' ': '...............',
  '-': '......###......',
  '.': '.............#.',
  '|': '.#..#..#..#..#.',
  '×': '...#.#.#.#.#...',
  '/': '..#..#.#.#..#..',
  ':': '....#.....#....',
  '=': '...###...###...',
  '(': '.#.#..#..#...#.',
  ')': '.#...#..#..#.#.',
  '+': '....#.###.#....',
  _: '............###',
  '%': '#.#..#.#.#..#.#',
  ',': '..........#.#..',
  '?': '##...#.#.....#.',
};

const WIDTH = 3;
const HEIGHT = 5;

function glyph(ch: string): string {
  return GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()] ?? GLYPHS['?'];
}

/** Width in pixels of `text` drawn at `scale` (one blank column between glyphs). */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : ([...text].length * (WIDTH + 1) - 1) * scale;
}

export function textHeight(scale = 1): number {
  return HEIGHT * scale;
}

/**
 * Draws `text` into `img` in place with its top-left at (x, y), every channel set to `value`;
 * pixels falling outside the image are skipped. Characters without a glyph are drawn as '?'.
 */
export function drawText(img: RawImage, text: string, x: number, y: number, opts: { scale?: number; value?: number } = {}): void {
  const scale = opts.scale ?? 1;
  const value = opts.value ?? 255;
  let left = x;
  for (const ch of text) {
    const g = glyph(ch);
    for (let r = 0; r < HEIGHT; r++) {
      for (let c = 0; c < WIDTH; c++) {
        if (g[r * WIDTH + c] !== '#') continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const px = left + c * scale + dx;
            const py = y + r * scale + dy;
            if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
            const o = (py * img.width + px) * img.channels;
            for (let k = 0; k < img.channels; k++) img.data[o + k] = value;
          }
        }
      }
    }
    left += (WIDTH + 1) * scale;
  }
}
