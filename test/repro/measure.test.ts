import assert from 'node:assert/strict';
import { shareOnTarget } from '../../src/repro';

describe('measure functions: the numbers the claims read', () => {
  it("00's share on the target leaves the target class's own images out (hand-worked)", () => {
    // rows: true class; columns: predicted label of the adversarial example; target 0
    const byTrueClass = [
      [50, 0, 0], // the target's own images: not counted
      [3, 1, 6], // 3 of 10 on the target
      [7, 3, 0], // 7 of 10
    ];
    assert.equal(shareOnTarget({ byTrueClass }, 0), 10 / 20);
    // target 2: rows 0 and 1 count, 6 of 60
    assert.equal(shareOnTarget({ byTrueClass }, 2), 6 / 60);
  });
});
