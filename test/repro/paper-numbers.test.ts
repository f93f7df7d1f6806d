import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PAPER_ATTACK_LABELS, PAPER_DEFENSES, TABLE1, TABLE2, TABLE4, TABLE5, paperCell, table5Cell, THEOREM1 } from '../../src/paper/numbers';
import { theorem1Bound } from '../../src/analysis/theorem1';

/** The transcription of the paper beside the checkout (../shared/PAPER.md), when present. */
const PAPER_MD = path.resolve(__dirname, '../../../shared/PAPER.md');

/** Rows of a markdown table that follows `heading`: first cell → the other cells. */
function markdownTable(text: string, heading: string): Map<string, string[]> {
  const start = text.indexOf(heading);
  assert.ok(start >= 0, `PAPER.md has no '${heading}'`);
  const rows = new Map<string, string[]>();
  const lines = text.slice(start).split('\n').slice(1);
  let inTable = false;
  for (const raw of lines) {
    const line = raw.trim();
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells[0] !== '---' && cells[0] !== '') rows.set(cells[0], cells.slice(1));
  }
  return rows;
}

describe('paper/numbers', () => {
  const text = fs.existsSync(PAPER_MD) ? fs.readFileSync(PAPER_MD, 'utf8') : null;

  it('Tables 1 and 2 match the transcription cell by cell', function () {
    if (!text) this.skip();
    for (const [table, heading] of [
      [TABLE1, 'CIFAR-10 all-to-one (Table 1)'],
      [TABLE2, 'GTSRB all-to-one (Table 2)'],
    ] as const) {
      const rows = markdownTable(text!, heading);
      for (const attack of table.attacks) {
        const printed = rows.get(PAPER_ATTACK_LABELS[attack]);
        assert.ok(printed, `${table.id}: no row ${PAPER_ATTACK_LABELS[attack]}`);
        PAPER_DEFENSES.forEach((d, j) => {
          const [acc, asr] = printed![j].split('/').map(Number);
          assert.deepEqual({ acc, asr }, { acc: table.cells[attack][d]!.acc, asr: table.cells[attack][d]!.asr }, `${table.id} ${attack} ${d}`);
        });
      }
    }
  });

  it('Table 5 matches the transcription', function () {
    if (!text) this.skip();
    const rows = markdownTable(text!, 'Table 5 (l2 distances');
    const header = ['BadNet', 'SIG', 'Blend', 'DynamicAtt', 'WaNet'];
    const benign = [...rows.entries()].find(([k]) => k.startsWith('D_benign'))![1].map(Number);
    const infected = [...rows.entries()].find(([k]) => k.startsWith('D_infected'))![1].map(Number);
    for (const attack of TABLE5.attacks) {
      const j = header.indexOf(PAPER_ATTACK_LABELS[attack]);
      assert.deepEqual(TABLE5.cells[attack], { dBenign: benign[j], dInfected: infected[j] }, attack);
    }
  });

  it('Table 4 matches the transcription (before, PBE w/ and w/o clean, in attack order)', function () {
    if (!text) this.skip();
    const para = text!.slice(text!.indexOf('CIFAR-10 all-to-all (Table 4)'));
    const pairs = (label: string) => {
      const part = para.slice(para.indexOf(label) + label.length);
      return [...part.matchAll(/(\d+\.\d+)\/(\d+\.\d+)/g)].slice(0, 5).map((m) => ({ acc: Number(m[1]), asr: Number(m[2]) }));
    };
    const order = ['badnets', 'blend', 'sig', 'dynamic', 'wanet'] as const;
    for (const [label, d] of [
      ['before —', 'before'],
      ['PBE w/ clean —', 'pbeWithClean'],
      ['PBE w/o clean —', 'pbeWithoutClean'],
    ] as const) {
      assert.deepEqual(
        order.map((a) => TABLE4.cells[a][d]),
        pairs(label),
        label,
      );
    }
  });

  it('names the table, row and column of a cell, and refuses an absent one', () => {
    assert.deepEqual(paperCell(TABLE1, 'blend', 'pbeWithClean'), {
      acc: 93.98,
      asr: 0.93,
      provenance: { source: 'Table 1', row: 'Blend', column: 'PBE w/ clean' },
    });
    assert.throws(() => paperCell(TABLE4, 'blend', 'ft' as never), /Table 4 has no cell for attack 'blend'.*defense 'ft'/);
    assert.ok(Math.abs(table5Cell('wanet').ratio - 15.85 / 48.13) < 1e-12);
  });

  it("Theorem 1's limit is the bound's value for an overwhelming trigger", () => {
    assert.ok(Math.abs(theorem1Bound(1, 1e4, 10, 0) - THEOREM1.limit) < 1e-6);
    assert.ok(Math.abs(THEOREM1.limit - 0.3827) < 1e-4);
  });
});
