import { createHash } from 'node:crypto';

/** A seed is a number or a string; both are hashed into a 128-bit generator state. */
export type Seed = number | string;

function stateFromSeed(seed: Seed): Uint32Array {
  const digest = createHash('sha256')
    .update(`pbe-rng:${typeof seed}:${String(seed)}`)
    .digest();
  const state = new Uint32Array(4);
  for (let i = 0; i < 4; i++) state[i] = digest.readUInt32LE(4 * i);
  // xoshiro128** must not start from the all-zero state.
  if (state[0] === 0 && state[1] === 0 && state[2] === 0 && state[3] === 0) state[0] = 0x9e3779b9;
  return state;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * The one seeded generator behind every random choice in pbe-lab (xoshiro128**).
 * `fork(label)` derives an independent stream from the seed and a label, not from the
 * current state, so adding a random draw in one place never shifts the numbers of another.
 */
export class Rng {
  readonly seed: Seed;
  private readonly s: Uint32Array;

  constructor(seed: Seed) {
    if (typeof seed === 'number' && !Number.isFinite(seed)) {
      throw new Error(`Rng: seed must be a finite number or a string, got ${seed}`);
    }
    this.seed = seed;
    this.s = stateFromSeed(seed);
  }

  /** A generator at an explicit xoshiro128** state, e.g. to check against the reference vectors. */
  static fromState(seedLabel: Seed, state: ArrayLike<number>): Rng {
    if (state.length !== 4 || Array.from(state).every((v) => v === 0)) {
      throw new Error('Rng.fromState: expected four 32-bit words, not all zero');
    }
    const r = new Rng(seedLabel);
    r.s.set(state);
    return r;
  }

  fork(label: string | number): Rng {
    return new Rng(`${String(this.seed)}/${String(label)}`);
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits of resolution. */
  float(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal by Box–Muller (one value per call keeps streams simple to reason about). */
  normal(mean = 0, std = 1): number {
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal(mean, std);
    return out;
  }

  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T, A extends { length: number; [i: number]: T }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle<number, Int32Array>(p);
  }

  /** k distinct indices from [0, n), in random order. */
  sample(n: number, k: number): Int32Array {
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new Error(`Rng.sample: k must be an integer in [0, ${n}], got ${k}`);
    }
    return this.permutation(n).slice(0, k);
  }
}
