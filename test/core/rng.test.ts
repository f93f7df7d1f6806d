import assert from 'node:assert/strict';
import { Rng } from '../../src/rng';

describe('Rng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    const sb = Array.from({ length: 20 }, () => b.nextUint32());
    const sc = Array.from({ length: 20 }, () => c.nextUint32());
    assert.deepEqual(sa, sb);
    assert.notDeepEqual(sa, sc);
    assert.notDeepEqual(
      Array.from({ length: 5 }, () => new Rng('42').nextUint32()),
      sa.slice(0, 1),
    );
  });

  it('matches the xoshiro128** reference outputs', () => {
    const r = Rng.fromState('reference', [1, 2, 3, 4]);
    assert.deepEqual(
      Array.from({ length: 6 }, () => r.nextUint32()),
      [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
    );
  });

  it('forks depend on the seed and label only, not on draws made before', () => {
    const a = new Rng(7);
    const forkedFirst = a.fork('poison').float();
    a.float();
    a.float();
    assert.equal(a.fork('poison').float(), forkedFirst);
    assert.notEqual(a.fork('init').float(), forkedFirst);
  });

  it('draws uniform floats and integers with the right moments', () => {
    const r = new Rng('moments');
    const n = 200000;
    let sum = 0;
    let sq = 0;
    const counts = new Array(7).fill(0);
    for (let i = 0; i < n; i++) {
      const u = r.float();
      assert.ok(u >= 0 && u < 1);
      sum += u;
      sq += u * u;
      counts[r.int(7)]++;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.005);
    assert.ok(Math.abs(sq / n - (sum * sum) / n / n - 1 / 12) < 0.003);
    for (const c of counts) assert.ok(Math.abs(c / n - 1 / 7) < 0.005, `bucket share ${c / n}`);
    const z = r.normalArray(n);
    const mean = z.reduce((s, v) => s + v, 0) / n;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    assert.ok(Math.abs(mean) < 0.01 && Math.abs(variance - 1) < 0.02, `normal mean ${mean} variance ${variance}`);
  });

  it('permutes and samples without repetition', () => {
    const r = new Rng(1);
    const p = r.permutation(1000);
    assert.deepEqual(
      Array.from(p).sort((x, y) => x - y),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    const s = r.sample(100, 30);
    assert.equal(new Set(s).size, 30);
    assert.throws(() => r.sample(10, 11), /k must be an integer in \[0, 10\]/);
    assert.throws(() => r.int(0), /n must be an integer/);
    assert.throws(() => new Rng(Number.NaN), /seed must be a finite number/);
  });
});
