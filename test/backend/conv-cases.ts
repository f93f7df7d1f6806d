/** Convolution shapes that exercise every padding and stride path a kernel replacement takes. */
export interface ConvCase {
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number;
  pad: 'same' | 'valid' | number;
}

export const CONV_CASES: ConvCase[] = [
  { x: [3, 8, 8, 4], w: [3, 3, 4, 5], stride: 1, pad: 'same' },
  { x: [2, 9, 7, 3], w: [3, 3, 3, 6], stride: 1, pad: 'valid' },
  { x: [2, 8, 8, 4], w: [3, 3, 4, 8], stride: 2, pad: 'same' },
  { x: [2, 9, 9, 4], w: [3, 3, 4, 2], stride: 2, pad: 'same' },
  { x: [2, 8, 8, 6], w: [1, 1, 6, 4], stride: 2, pad: 'same' },
  { x: [2, 10, 10, 2], w: [5, 5, 2, 3], stride: 2, pad: 'valid' },
  { x: [1, 7, 7, 3], w: [3, 3, 3, 3], stride: 3, pad: 'same' },
];
