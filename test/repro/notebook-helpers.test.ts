import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as aq from 'arquero';
import type { FeatureEmbedding } from '../../src/analysis';
import { figureBundle, tableBundle } from '../../src/notebook';
import { embeddingSummary, readMeasured, reproSettings, teachingObservationReading, type TsneValues, writeMeasured } from '../../src/repro';
import { VEGA_LITE_MIME, vegaLite, type VegaLiteSpec } from '../../src/plots/vega';

describe('notebook helpers', () => {
  it('a figure carries its Vega-Lite spec, an SVG rendering with its marks, and its title as text', async () => {
    const spec = vegaLite({
      title: 'two bars',
      data: {
        values: [
          { a: 'x', b: 1 },
          { a: 'y', b: 2 },
        ],
      },
      mark: 'bar',
      encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative' } },
    } as Omit<VegaLiteSpec, '$schema'>);
    const b = await figureBundle(spec);
    assert.equal(b[VEGA_LITE_MIME], spec);
    assert.equal((String(b['image/svg+xml']).match(/aria-roledescription="bar"/g) ?? []).length, 2);
    assert.equal(b['text/plain'], '[figure] two bars');
  });

  it('a table renders as HTML and Markdown with every row', () => {
    const b = tableBundle(aq.from(Array.from({ length: 30 }, (_, i) => ({ i, sq: i * i }))), 'squares');
    assert.equal((String(b['text/html']).match(/<tr>/g) ?? []).length, 31);
    assert.match(String(b['text/markdown']), /^\*\*squares\*\*\n\n\|i\|sq\|/);
    assert.match(String(b['text/markdown']), /\|29\|841\|/);
  });

  it('a table shows shares as percentages, an em dash where a value does not apply, and numbers right-aligned', () => {
    const models = aq.from([
      { model: 'benign', ACC: 0.877778, ASR: null },
      { model: 'infected', ACC: 0.8625, ASR: 0.996 },
    ]);
    const b = tableBundle(models, 'models', { percent: ['ACC', 'ASR'] });
    assert.equal(String(b['text/markdown']), '**models**\n\n|model|ACC|ASR|\n|:-|-:|-:|\n|benign|87.8%|—|\n|infected|86.3%|99.6%|\n');
    assert.match(String(b['text/html']), /<td style="text-align: right;">87\.8%<\/td><td style="text-align: right;">—<\/td>/);
    assert.ok(!/null|0\.877778/.test(String(b['text/html'])));
    assert.throws(() => tableBundle(models, 'models', { percent: ['acc'] }), /no column 'acc' to show as a percentage \(columns: model, ACC, ASR\)/);
  });

  it('embeddingSummary counts points nearer the triggered centre than their clean class centre (hand-worked)', () => {
    const p = (x: number, y: number, kind: 'clean' | 'adversarial' | 'triggered', cls: number) => ({ x, y, kind, cls, sourceIndex: 0, group: '', color: '' });
    // class 1 clean at (0, 0), triggered at (10, 0); adversarial points at x = 2 (nearer clean) and x = 8 (nearer triggered)
    const e = {
      points: [p(0, 0, 'clean', 1), p(0, 0, 'clean', 1), p(2, 0, 'adversarial', 1), p(8, 0, 'adversarial', 1), p(10, 0, 'triggered', 1), p(5, 5, 'clean', 0)],
      target: 0,
    } as unknown as FeatureEmbedding;
    assert.deepEqual(embeddingSummary(e), { adversarialNearerTrigger: 0.5, cleanNearerTrigger: 0, points: 6 });
  });

  it('writes measured values atomically with parameters and runtime; the scales are data', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-measured-'));
    try {
      const values: TsneValues = { adversarialNearerTrigger: 0.5, cleanNearerTrigger: 0.1, points: 6, asr: 1, acc: 0.9, metrics: { beltShare: 0.4 } };
      const file = writeMeasured(path.join(dir, 'x.json'), '03-tsne', { scale: 'quick' }, values);
      const rec = readMeasured(file);
      assert.deepEqual([rec.notebook, rec.values.metrics], ['03-tsne', { beltShare: 0.4 }]);
      assert.ok(rec.runtime.versions.node);
      assert.deepEqual(fs.readdirSync(dir), ['x.json']);
      // bad input: an error naming the file and the field
      fs.writeFileSync(file, JSON.stringify({ ...rec, values: { ...values, metrics: { beltShare: 'high' } } }));
      assert.throws(
        () => readMeasured(file),
        new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: values\\.metrics\\.beltShare: expected a finite number or null, got "high"`),
      );
      fs.writeFileSync(file, JSON.stringify({ ...rec, notebook: '99-x' }));
      assert.throws(() => readMeasured(file), /notebook: expected one of 00-teaching, .*, got "99-x"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(reproSettings('quick').dataset, 'mnist');
    assert.equal(reproSettings('cpu').training.trainPerClass, 5000);
    assert.throws(() => reproSettings('fast'), /scale: expected one of quick, cpu, paper, got 'fast'/);
  });
});

describe("00-teaching's reading of the observation", () => {
  const values = (benign: number, infected: number) => ({
    benignAcc: 0.8,
    infectedAcc: 0.8,
    asr: 1,
    targetShare: { benign, infected },
    images: 2000,
    metrics: { targetShareInfected: infected, targetShareBenign: benign },
  });

  it("says the attack finds the backdoor only where the share reaches the paper's 40%", () => {
    assert.match(
      teachingObservationReading(values(0.1, 0.489)),
      /sends 10\.0% to `0` and the infected one 48\.9% \(4\.9×\)\. .*: the attack, told nothing about the backdoor, finds it\.$/,
    );
    assert.match(teachingObservationReading(values(0.125, 0.184)), /finds it only partly\.$/);
    assert.match(teachingObservationReading(values(0.125, 0.1)), /does not find it: the infected model's share is no higher than the benign one's\.$/);
  });
});
