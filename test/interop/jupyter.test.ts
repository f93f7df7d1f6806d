import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkReport, chromiumMissing } from '../../paper-repro/check-report';
import { checkClaims, type MeasuredMetrics, readMeasured } from '../../src/repro';
import { type ExecutedNotebook, executeNotebook } from '../../paper-repro/execute';
import { tslabKernelSpec } from '../../paper-repro/kernel';
import { nbformatErrors } from '../../paper-repro/nbformat';
import { repro } from '../../paper-repro/run';
import { readExecuted } from '../../paper-repro/report';
import { VEGA_LITE_MIME } from '../../src/plots/vega';

/**
 * The notebooks through the tslab kernel, driven over the Jupyter protocol from Node (no Python),
 * then the report in headless Chromium, and one notebook through Debian's `jupyter nbconvert`.
 * Chromium and Jupyter are skipped with the reason where they are not installed; CI installs both
 * (CI=true), so there a missing one fails. `npm run test:interop` runs this folder, apart from
 * `npm test`: the kernels, Jupyter and the browser take over a minute of CPU.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const GOOD = ['00-teaching', '03-tsne', '06-progressive-defense'];

const code = (source: string, tags?: string[]) => ({ cell_type: 'code', metadata: tags ? { tags } : {}, source, outputs: [], execution_count: null });
// Written as nbformat 4.4 (no cell ids), as older tools do: the executed copies must come out 4.5.
const notebook = (...cells: object[]) => ({
  cells,
  metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
  nbformat: 4,
  nbformat_minor: 4,
});

const FAILING = notebook(
  code("const scale: string = 'quick';", ['parameters']),
  code("console.log('before');\nthrow new Error('deliberate failure in cell 3');"),
);

/** What the suite's notebooks show, then a type error: the cells after it do not run. */
const DISPLAYS = notebook(
  code("const scale: string = 'quick';", ['parameters']),
  code(
    "import * as pbe from 'pbe-lab';\npbe.displayBundle({ 'text/html': '<b>two</b>', 'text/markdown': '**two**', 'text/plain': 'two' });\nconsole.log('printed');\n40 + 2",
  ),
  code(
    "const bar = new pbe.Progress('counting', 30, pbe.consoleSink(), 'step');\nfor (let i = 0; i < 30; i++) {\n  await new Promise((r) => setTimeout(r, 50));\n  bar.tick();\n}",
  ),
  code("const wrong: number = 'text';"),
  code("console.log('never');"),
);

/**
 * More messages in one synchronous burst than zeromq sends before it defers one (512): tslab's next
 * send used to kill the kernel with EBUSY. Fewer than the publisher's high-water mark (1,000), which
 * would drop messages of a reader that has not caught up.
 */
const CHATTY = notebook(
  code("const scale: string = 'quick';", ['parameters']),
  code('for (let k = 0; k < 800; k++) process.stdout.write(`${k}\\n`);'),
  code("console.log('alive');"),
);

const TIMEOUT_SEC = 4;
const SPINS = notebook(code("const scale: string = 'quick';", ['parameters']), code('while (true) {}'), code("console.log('never');"));

interface Executed {
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: {
    id: string;
    cell_type: string;
    metadata: { tags?: string[] };
    execution_count?: number | null;
    outputs?: { output_type: string; name?: string; text?: string; data?: Record<string, string>; metadata?: Record<string, unknown> }[];
  }[];
}
const readNb = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Executed;

let tmp: string;
let out: string;
let started: Promise<{ code: number } | { error: unknown }>;
/** the display and time-out notebooks, executed directly beside the suite's run */
let direct: Promise<{ displays: ExecutedNotebook; spins: ExecutedNotebook; spinsSeconds: number; chatty: ExecutedNotebook }>;
/** repro's progress and summary, shown with this suite rather than among other files' tests */
let log = '';

// A root hook: the notebooks run in Jupyter's processes from the start of this file, while the other
// mocha worker goes on with the remaining files; the suite below waits for them.
before(function () {
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
  // repro builds the declarations the kernels read before it returns its promise.
  started = repro({ scale: 'quick', only: ['zz-fails', ...GOOD], out, backend: '', seed: 0, notebooks, env, log: (text) => void (log += text) }).then(
    (code) => ({ code }),
    (error: unknown) => ({ error }),
  );
  const run = (name: string, nb: object, timeoutSec: number | null) => {
    fs.writeFileSync(path.join(tmp, `${name}.ipynb`), JSON.stringify(nb));
    const kernel = tslabKernelSpec({ PBE_KERNEL_TYPES_FRESH: '1' });
    return executeNotebook({
      input: path.join(tmp, `${name}.ipynb`),
      output: path.join(tmp, 'direct', `${name}.ipynb`),
      kernel,
      cwd: ROOT,
      env: { ...process.env, ...env },
      parameters: "const scale: string = 'quick';",
      timeoutSec,
    });
  };
  fs.mkdirSync(path.join(tmp, 'direct'));
  direct = (async () => {
    const displays = await run('displays', DISPLAYS, 120);
    const t0 = Date.now();
    const spins = await run('spins', SPINS, TIMEOUT_SEC);
    const spinsSeconds = (Date.now() - t0) / 1000;
    return { displays, spins, spinsSeconds, chatty: await run('chatty', CHATTY, 120) };
  })();
});

after(async function () {
  this.timeout(900_000);
  await Promise.allSettled([started, direct]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Where `jupyter nbconvert` runs, or why it cannot. */
function nbconvertMissing(): string | null {
  const r = spawnSync('jupyter', ['nbconvert', '--version'], { encoding: 'utf8' });
  if (r.error)
    return `jupyter not found (${r.error.message}); apt-get install jupyter-nbconvert python3-nbclient python3-ipython jupyter-client for the interop check`;
  if (r.status !== 0) return `jupyter nbconvert does not run: ${r.stderr.trim().split('\n').pop()}`;
  return null;
}

/** Skips the test where a tool is missing, saying why; under CI=true a missing tool fails it. */
function skipWithout(test: Mocha.Context, tool: string, missing: string | null): void {
  if (!missing) return;
  if (process.env.CI === 'true') throw new Error(`CI must have ${tool}: ${missing}`);
  console.log(`      (skipped: ${missing})`);
  test.skip();
}

describe('notebooks through the Jupyter protocol from Node', function () {
  this.timeout(300_000);

  it('collects a multi-MIME display, a last expression (tslab prints it) and one progress bar updated in place, with execution counts from the replies', async () => {
    const { displays } = await direct;
    const nb = readNb(path.join(tmp, 'direct', 'displays.ipynb'));
    const cells = nb.cells.filter((c) => c.cell_type === 'code');
    assert.deepEqual(
      cells.map((c) => c.execution_count),
      [1, 2, 3, 4, 5, null],
      'parameters, injected, display, progress, the type error; nothing after it',
    );
    const shown = cells[2].outputs!;
    assert.deepEqual(
      shown.map((o) => o.output_type),
      ['display_data', 'stream'],
    );
    assert.deepEqual(Object.keys(shown[0].data!).sort(), ['text/html', 'text/markdown', 'text/plain']);
    assert.equal(shown[1].text, 'printed\n42\n');
    const bar = cells[3].outputs!;
    assert.equal(bar.length, 1, `one output for the whole loop: ${JSON.stringify(bar).slice(0, 500)}`);
    assert.equal(bar[0].output_type, 'display_data');
    assert.deepEqual(bar[0].metadata, { 'pbe-lab': 'progress' });
    assert.match(bar[0].data!['text/plain'], /^counting █+ 100% 30\/30 step/);
    assert.match(bar[0].data!['text/html'], /<progress value="1.0000" max="1"/);
    assert.ok(!('transient' in bar[0]));
    assert.equal(displays.ok, false);
    assert.equal(displays.failure?.cell, 5);
  });

  it('stops at a type error, with its diagnostic as the failure message', async () => {
    const { displays } = await direct;
    assert.equal(displays.failure?.status, 'error');
    assert.match(displays.failure!.message, /Type 'string' is not assignable to type 'number'/);
    const cells = readNb(path.join(tmp, 'direct', 'displays.ipynb')).cells.filter((c) => c.cell_type === 'code');
    assert.deepEqual(
      cells[4].outputs!.map((o) => o.name),
      ['stderr'],
    );
    assert.deepEqual(cells[5].outputs, []);
  });

  it('interrupts a cell that runs past its time limit and shuts the kernel down', async () => {
    const { spins, spinsSeconds } = await direct;
    assert.equal(spins.ok, false);
    assert.equal(spins.failure?.status, 'timeout');
    assert.match(spins.failure!.message, new RegExp(`timed out after ${TIMEOUT_SEC} s and was interrupted`));
    assert.ok(spinsSeconds < TIMEOUT_SEC + 30, `interrupted and shut down in ${spinsSeconds.toFixed(1)} s`);
    const cells = readNb(path.join(tmp, 'direct', 'spins.ipynb')).cells.filter((c) => c.cell_type === 'code');
    assert.equal(cells[2].metadata.tags?.includes('injected-parameters') ?? false, false);
    assert.deepEqual(cells[3].outputs, [], 'the cell after the time-out did not run');
  });

  it('keeps the kernel alive and every line in order through 800 outputs in one synchronous burst (paper-repro/zmq-send-queue.ts)', async () => {
    const { chatty } = await direct;
    assert.equal(chatty.failure, null);
    const cells = readNb(path.join(tmp, 'direct', 'chatty.ipynb')).cells.filter((c) => c.cell_type === 'code');
    const text = cells[2].outputs!.map((o) => o.text ?? '').join('');
    assert.equal(text, Array.from({ length: 800 }, (_, k) => `${k}\n`).join(''));
    assert.equal(cells[3].outputs![0].text, 'alive\n');
  });

  it('writes executed copies that are valid nbformat 4.5: cell ids, no transient fields, upgraded from 4.4', async () => {
    await direct;
    for (const name of ['displays', 'spins']) {
      const nb = readNb(path.join(tmp, 'direct', `${name}.ipynb`));
      assert.deepEqual(nbformatErrors(nb), [], name);
      assert.equal(nb.nbformat_minor, 5);
      assert.equal(new Set(nb.cells.map((c) => c.id)).size, nb.cells.length, `${name}: unique cell ids`);
      assert.equal((nb.metadata.language_info as { name: string }).name, 'typescript', 'language_info from kernel_info_reply');
    }
  });
});

describe('paper-repro: the notebooks, their report and Chromium', function () {
  this.timeout(900_000);
  let code = -1;

  before(async function () {
    const r = await started;
    process.stderr.write(log);
    if ('error' in r) throw r.error;
    code = r.code;
  });

  it('executes the teaching notebook, the quick Fig. 5 and Fig. 6/7 notebooks, with the scale injected after the parameters cell', () => {
    assert.equal(code, 1, 'repro exit code: the failing notebook fails the run');
    const runs = JSON.parse(fs.readFileSync(path.join(out, 'runs.json'), 'utf8')) as Record<string, { ok: boolean; measured: string | null }>;
    const metrics: MeasuredMetrics = {};
    for (const name of GOOD) {
      assert.equal(runs[name].ok, true, `${name} ran after a failed notebook`);
      const record = readMeasured(runs[name].measured!);
      metrics[record.notebook] = record.values.metrics;
    }
    // What repro's exit code says when every notebook runs: no claim that must hold at quick fails
    // (checkClaims also throws if a notebook that ran did not write a metric one of its claims reads).
    assert.deepEqual(
      checkClaims('quick', metrics)
        .filter((r) => r.blocking)
        .map((r) => r.claim.id),
      [],
    );
    for (const name of GOOD) {
      const nb = JSON.parse(fs.readFileSync(path.join(out, 'executed', `${name}.ipynb`), 'utf8')) as {
        cells: { metadata: { tags?: string[] }; outputs?: { output_type: string }[] }[];
      };
      const tags = nb.cells.map((c) => c.metadata.tags ?? []);
      const p = tags.findIndex((t) => t.includes('parameters'));
      assert.ok(tags[p + 1].includes('injected-parameters'), `${name}: injected cell right after the parameters cell`);
      assert.ok(!nb.cells.some((c) => c.outputs?.some((o) => o.output_type === 'error')), `${name}: no error output`);
      const measured = JSON.parse(fs.readFileSync(path.join(out, 'executed', `${name}.json`), 'utf8')) as {
        parameters: { scale: string };
        values: Record<string, unknown>;
      };
      assert.equal(measured.parameters.scale, 'quick');
    }
    const teaching = JSON.parse(fs.readFileSync(path.join(out, 'executed', '00-teaching.json'), 'utf8')) as {
      values: { asr: number; targetShare: { benign: number; infected: number } };
    };
    assert.ok(teaching.values.asr > 0.5, `the infected model learned the backdoor (ASR ${teaching.values.asr})`);
    assert.ok(
      teaching.values.targetShare.infected > teaching.values.targetShare.benign,
      'the observation: more adversarial examples on the target for the infected model',
    );
    const pbe = JSON.parse(fs.readFileSync(path.join(out, 'executed', '06-progressive-defense.json'), 'utf8')) as {
      values: { withoutClean: { stages: unknown[]; before: { asr: number } }; withClean: { before: { asr: number } } };
    };
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
    assert.ok(
      shown.some((s) => s.kind === 'reading'),
      'a reading under the figure',
    );
    const teaching = readExecuted(path.join(out, 'executed', '00-teaching.ipynb')).shown;
    assert.ok(teaching.some((s) => s.kind === 'image') && teaching.some((s) => s.kind === 'table'));
    const pbe = readExecuted(path.join(out, 'executed', '06-progressive-defense.ipynb')).shown;
    assert.deepEqual(
      pbe.filter((s) => s.kind === 'figure').map((s) => (s as { title: string }).title),
      [
        'pbe on blend (all2one), mnist',
        'Ranking the training set by logit similarity (Fig. 6)',
        'Average precision of the ranking after each iteration (Fig. 6)',
      ],
    );
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

  it('writes every executed copy as valid nbformat 4.5, a failed one included, with the failure printed', () => {
    for (const name of ['zz-fails', ...GOOD]) assert.deepEqual(nbformatErrors(readNb(path.join(out, 'executed', `${name}.ipynb`))), [], name);
    assert.match(log, /zz-fails\.ipynb: code cell 3 of 3 failed \(error\):\n(.|\n)*deliberate failure in cell 3/);
  });

  it('shows each training of the teaching notebook as one progress bar at 100%, not as lines on stderr, and numbered cells', () => {
    const nb = readNb(path.join(out, 'executed', '00-teaching.ipynb'));
    const code = nb.cells.filter((c) => c.cell_type === 'code');
    assert.deepEqual(
      code.map((c) => c.execution_count),
      code.map((_, i) => i + 1),
    );
    const outputs = code.flatMap((c) => c.outputs ?? []);
    assert.deepEqual(
      outputs.filter((o) => o.name === 'stderr'),
      [],
    );
    const bars = outputs.filter((o) => o.metadata?.['pbe-lab'] === 'progress').map((o) => o.data!['text/plain']);
    assert.deepEqual(
      bars.map((b) => b.split(' █')[0]),
      ['benign mnist-net on mnist', 'blend all2one → 0'],
      bars.join('\n'),
    );
    assert.ok(
      bars.every((b) => / 100% 36\/36 batch /.test(b)),
      bars.join('\n'),
    );
    const table = outputs.find((o) => o.data?.['text/markdown']?.startsWith('**Clean accuracy'))!.data!['text/markdown'];
    assert.match(table, /\|benign\|\d+\.\d%\|—\|/);
  });

  it("executes the teaching notebook through Debian's jupyter nbconvert too (the interop check)", function () {
    skipWithout(this, 'Jupyter', nbconvertMissing());
    // A kernel spec private to the check (JUPYTER_PATH), whatever the user has registered.
    const jupyterPath = path.join(tmp, 'jupyter');
    fs.mkdirSync(path.join(jupyterPath, 'kernels', 'pbe-lab-tslab'), { recursive: true });
    fs.writeFileSync(path.join(jupyterPath, 'kernels', 'pbe-lab-tslab', 'kernel.json'), JSON.stringify(tslabKernelSpec({ PBE_KERNEL_TYPES_FRESH: '1' })));
    const executed = path.join(tmp, 'nbconvert', '00-teaching.ipynb');
    // The suite's run above trained its models into this cache, so nbconvert reads them back; the
    // notebook, run as a user runs it, writes its values there too.
    const cache = path.join(tmp, 'cache');
    const measured = path.join(cache, 'results', 'notebooks', '00-teaching.json');
    const env = { ...process.env, JUPYTER_PATH: jupyterPath, PBE_CACHE_DIR: cache };
    const r = spawnSync(
      'jupyter',
      [
        'nbconvert',
        '--to',
        'notebook',
        '--execute',
        '--ExecutePreprocessor.kernel_name=pbe-lab-tslab',
        '--ExecutePreprocessor.timeout=600',
        `--output-dir=${path.dirname(executed)}`,
        path.join(ROOT, 'notebooks', '00-teaching.ipynb'),
      ],
      { cwd: ROOT, env, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    const values = (JSON.parse(fs.readFileSync(measured, 'utf8')) as { values: { asr: number } }).values;
    const ours = (JSON.parse(fs.readFileSync(path.join(out, 'executed', '00-teaching.json'), 'utf8')) as { values: { asr: number } }).values;
    assert.equal(values.asr, ours.asr, 'the same cached infected model, the same ASR');
    const shown = readExecuted(executed).shown.map((x) => x.kind);
    assert.deepEqual(
      shown,
      readExecuted(path.join(out, 'executed', '00-teaching.ipynb')).shown.map((x) => x.kind),
    );
  });

  it('renders the report in headless Chromium: no console error, every figure with marks, the image tooltip on hover', function () {
    skipWithout(this, 'Chromium', chromiumMissing());
    const r = checkReport(path.join(out, 'report.html'));
    assert.deepEqual(r.problems, []);
    assert.equal(r.status.figures, 5);
    assert.ok(r.status.marks.every((n) => n > 0));
    assert.equal(r.status.tooltipImage, true);
    assert.ok(fs.statSync(r.screenshot).size > 10_000);
  });
});
