import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkReport, chromiumMissing } from '../../paper-repro/check-report';
import { checkClaims } from '../../paper-repro/claims';
import { jupyterMissing, repro } from '../../paper-repro/run';
import { readExecuted } from '../../paper-repro/report';
import { VEGA_LITE_MIME } from '../../src/plots/vega';

/**
 * The notebooks through real Jupyter (nbclient) and the tslab kernel, then the report in headless
 * Chromium. Skipped with the reason where Jupyter or Chromium is not installed locally; CI installs
 * both (CI=true), so there a missing one fails.
 */
const GOOD = ['00-teaching', '03-tsne', '06-progressive-defense'];

const FAILING = {
  cells: [
    { cell_type: 'code', metadata: { tags: ['parameters'] }, source: "const profile: string = 'quick';", outputs: [], execution_count: null },
    { cell_type: 'code', metadata: {}, source: "console.log('before');\nthrow new Error('deliberate failure in cell 3');", outputs: [], execution_count: null },
  ],
  metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
  nbformat: 4,
  nbformat_minor: 5,
};

let tmp: string | null = null;
let out: string;
let started: Promise<{ code: number } | { error: unknown }> | null = null;
/** repro's progress and summary, shown with this suite rather than among other files' tests */
let log = '';

// A root hook: the notebooks run in Jupyter's processes from the start of this file, while the other
// mocha worker goes on with the remaining files; the suite below waits for them.
before(function () {
  if (jupyterMissing()) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-repro-'));
  out = path.join(tmp, 'out');
  // One run (one Jupyter start-up, one declarations build) of a deliberately failing notebook,
  // then the teaching, t-SNE and progressive-defense notebooks, which must run all the same.
  const notebooks = path.join(tmp, 'notebooks');
  fs.mkdirSync(notebooks);
  for (const name of GOOD) fs.copyFileSync(path.join(__dirname, '..', '..', 'notebooks', `${name}.ipynb`), path.join(notebooks, `${name}.ipynb`));
  fs.writeFileSync(path.join(notebooks, 'zz-fails.ipynb'), JSON.stringify(FAILING));
  // A fresh cache: the teaching notebook trains its two models, the t-SNE notebook and PBE (Fig. 6/7) reuse the infected one.
  const env = { PBE_CACHE_DIR: path.join(tmp, 'cache') };
  started = repro({ profile: 'quick', only: ['zz-fails', ...GOOD], out, backend: '', seed: 0, notebooks, env, log: (text) => void (log += text) }).then(
    (code) => ({ code }),
    (error: unknown) => ({ error }),
  );
});

after(async function () {
  this.timeout(900_000);
  await started;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('paper-repro through Jupyter and Chromium', function () {
  this.timeout(900_000);
  let code = -1;

  before(async function () {
    const missing = jupyterMissing();
    if (missing) {
      if (process.env.CI === 'true') throw new Error(`CI must have Jupyter: ${missing}`);
      console.log(`      (skipped: ${missing})`);
      this.skip();
    }
    const r = await started!;
    process.stderr.write(log);
    if ('error' in r) throw r.error;
    code = r.code;
  });

  it('executes the teaching notebook, the quick Fig. 5 and Fig. 6/7 notebooks, with the profile injected after the parameters cell', () => {
    assert.equal(code, 1, 'repro exit code: the failing notebook fails the run');
    const runs = JSON.parse(fs.readFileSync(path.join(out, 'runs.json'), 'utf8')) as Record<string, { ok: boolean; measured: string | null }>;
    const values: Record<string, unknown> = {};
    for (const name of GOOD) {
      assert.equal(runs[name].ok, true, `${name} ran after a failed notebook`);
      values[name] = (JSON.parse(fs.readFileSync(runs[name].measured!, 'utf8')) as { values: unknown }).values;
    }
    // What repro's exit code says when every notebook runs: no claim that must hold at quick fails.
    assert.deepEqual(checkClaims('quick', values).filter((r) => r.blocking).map((r) => r.claim.id), []);
    for (const name of GOOD) {
      const nb = JSON.parse(fs.readFileSync(path.join(out, 'executed', `${name}.ipynb`), 'utf8')) as { cells: { metadata: { tags?: string[] }; outputs?: { output_type: string }[] }[] };
      const tags = nb.cells.map((c) => c.metadata.tags ?? []);
      const p = tags.findIndex((t) => t.includes('parameters'));
      assert.ok(tags[p + 1].includes('injected-parameters'), `${name}: injected cell right after the parameters cell`);
      assert.ok(!nb.cells.some((c) => c.outputs?.some((o) => o.output_type === 'error')), `${name}: no error output`);
      const measured = JSON.parse(fs.readFileSync(path.join(out, 'executed', `${name}.json`), 'utf8')) as { parameters: { profile: string }; values: Record<string, unknown> };
      assert.equal(measured.parameters.profile, 'quick');
    }
    const teaching = JSON.parse(fs.readFileSync(path.join(out, 'executed', '00-teaching.json'), 'utf8')) as { values: { asr: number; targetShare: { benign: number; infected: number } } };
    assert.ok(teaching.values.asr > 0.5, `the infected model learned the backdoor (ASR ${teaching.values.asr})`);
    assert.ok(teaching.values.targetShare.infected > teaching.values.targetShare.benign, 'the observation: more adversarial examples on the target for the infected model');
    const pbe = JSON.parse(fs.readFileSync(path.join(out, 'executed', '06-progressive-defense.json'), 'utf8')) as { values: { withoutClean: { stages: unknown[]; before: { asr: number } }; withClean: { before: { asr: number } } } };
    assert.equal(pbe.values.withoutClean.stages.length, 5, 'the infected model and four PBE iterations');
    assert.equal(pbe.values.withClean.before.asr, teaching.values.asr, "PBE starts from the teaching notebook's cached infected model");
  });

  it('stores figures as Vega-Lite with an SVG fallback, and t-SNE points carry their images', () => {
    const { shown } = readExecuted(path.join(out, 'executed', '03-tsne.ipynb'));
    const figures = shown.filter((s) => s.kind === 'figure');
    assert.equal(figures.length, 1);
    const fig = figures[0] as { spec: { $schema: string; data: { values: { image?: string }[] } }; svg: string | null };
    assert.match(fig.spec.$schema, /vega-lite\/v5/);
    assert.match(fig.svg ?? '', /^<svg/);
    assert.ok(fig.spec.data.values.every((v) => v.image?.startsWith('data:image/png;base64,')));
    assert.ok(shown.some((s) => s.kind === 'reading'), 'a reading under the figure');
    const teaching = readExecuted(path.join(out, 'executed', '00-teaching.ipynb')).shown;
    assert.ok(teaching.some((s) => s.kind === 'image') && teaching.some((s) => s.kind === 'table'));
    const pbe = readExecuted(path.join(out, 'executed', '06-progressive-defense.ipynb')).shown;
    assert.deepEqual(pbe.filter((s) => s.kind === 'figure').map((s) => (s as { title: string }).title), [
      'pbe on blend (all2one), mnist',
      'Ranking the training set by logit similarity (Fig. 6)',
      'Average precision of the ranking after each iteration (Fig. 6)',
    ]);
    assert.equal(pbe.filter((s) => s.kind === 'table').length, 2);
    assert.ok(VEGA_LITE_MIME.startsWith('application/vnd.vegalite.v5'));
  });

  it('saves the executed copy of a failing notebook and reports the failing cell', () => {
    const runs = JSON.parse(fs.readFileSync(path.join(out, 'runs.json'), 'utf8')) as Record<string, { ok: boolean; error: string }>;
    assert.equal(runs['zz-fails'].ok, false);
    assert.match(runs['zz-fails'].error, /deliberate failure in cell 3/);
    const executed = JSON.parse(fs.readFileSync(path.join(out, 'executed', 'zz-fails.ipynb'), 'utf8')) as { cells: { outputs?: { text?: string }[] }[] };
    assert.match(JSON.stringify(executed.cells[2].outputs), /before/);
  });

  it('renders the report in headless Chromium: no console error, every figure with marks, the image tooltip on hover', function () {
    const missing = chromiumMissing();
    if (missing) {
      if (process.env.CI === 'true') throw new Error(`CI must have Chromium: ${missing}`);
      console.log(`      (skipped: ${missing})`);
      this.skip();
    }
    const r = checkReport(path.join(out, 'report.html'));
    assert.deepEqual(r.problems, []);
    assert.equal(r.status.figures, 5);
    assert.ok(r.status.marks.every((n) => n > 0));
    assert.equal(r.status.tooltipImage, true);
    assert.ok(fs.statSync(r.screenshot).size > 10_000);
  });
});
