import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/backend';
import { Cache } from '../../src/cache';
import { CLAIMS, contractViolations, measureTheorem1, NOTEBOOK_NAMES, type NotebookName, readMeasurements, reproSettings } from '../../src/repro';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The contract between the notebooks and the claims: every claim reads a metric its notebook's
 * `measure…` function writes. The types check it when the claims compile (a claim's metric is
 * typed against its notebook's values); these tests check it in what real runs wrote.
 */
describe('the reproduction contract: every claim reads a metric its notebook writes', () => {
  before(() => initBackend('wasm'));

  it('every claim names a notebook of the suite', () => {
    for (const c of CLAIMS) assert.ok((NOTEBOOK_NAMES as readonly string[]).includes(c.notebook), `${c.id}: ${c.notebook}`);
  });

  it('in the values of every notebook of the committed quick run (docs/measurements/quick.json)', () => {
    const m = readMeasurements(path.join(ROOT, 'docs', 'measurements', 'quick.json'));
    assert.deepEqual(Object.keys(m.notebooks), [...NOTEBOOK_NAMES]);
    for (const name of NOTEBOOK_NAMES) {
      const metrics = (m.notebooks[name].values as { metrics?: Record<string, unknown> }).metrics;
      assert.ok(metrics, `${name}: values.metrics`);
      assert.deepEqual(contractViolations(name, metrics), []);
    }
    // and the verdicts recorded there are those of the claims as they are now
    assert.deepEqual(
      m.claims.map((c) => `${c.id} ${c.notebook} ${c.metric}`),
      CLAIMS.map((c) => `${c.id} ${c.notebook} ${c.metric}`),
    );
  });

  it("in what a measure function returns on tiny data (04's linear models, 10 digits per class)", async function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-contract-'));
    try {
      const quick = reproSettings('quick');
      const s = { ...quick, theorem1: { ...quick.theorem1, trainPerClass: 10, testPerClass: 2, strengths: [1, 8] } };
      const { values } = await measureTheorem1(s, 0, { cache: new Cache(dir) });
      const notebook: NotebookName = '04-theorem1';
      assert.ok(CLAIMS.some((c) => c.notebook === notebook));
      assert.deepEqual(contractViolations(notebook, values.metrics), []);
      for (const v of Object.values(values.metrics)) assert.ok(Number.isFinite(v), `${v}`);
      // the metrics are readings of the values written beside them, not numbers of their own
      assert.equal(values.metrics.alongTriggerOverRandom, values.strongest.alongTrigger / values.strongest.alongRandom);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the claim and the metric when a notebook stops writing one', () => {
    assert.deepEqual(contractViolations('03-tsne', { asr: 1 }), ["claim fig5-belt reads metric 'beltShare', which 03-tsne did not write"]);
  });
});
