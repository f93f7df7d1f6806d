import * as cliProgress from 'cli-progress';
import { randomBytes } from 'node:crypto';
import { type DisplayWriter, escapeHtml, kernelDisplay } from './notebook/output';

export interface ProgressUpdate {
  label: string;
  done: number;
  total: number;
  unit: string;
  elapsedSec: number;
  etaSec: number | null;
  rate: number;
  detail?: string;
}

export type ProgressSink = (u: ProgressUpdate) => void;

export function formatDuration(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

function formatCount(n: number, unit: string): string {
  if (unit === 'B') {
    if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
    if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
    if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(0)} KiB`;
    return `${n} B`;
  }
  return `${n} ${unit}`;
}

const BAR_WIDTH = 24;

/** Percentage, counts, rate, ETA and detail: what follows the bar. */
export function formatProgressTail(u: ProgressUpdate): string {
  const frac = u.total > 0 ? Math.min(1, u.done / u.total) : 0;
  const rate = u.unit === 'B' ? `${formatCount(u.rate, 'B')}/s` : `${u.rate.toFixed(1)} ${u.unit}/s`;
  const pct = (100 * frac).toFixed(0).padStart(3);
  const tail = u.detail ? `  ${u.detail}` : '';
  const counts = u.unit === 'B' ? `${formatCount(u.done, 'B')}/${formatCount(u.total, 'B')}` : `${u.done}/${u.total} ${u.unit}`;
  return `${pct}% ${counts}  ${rate}  ETA ${formatDuration(u.etaSec)}${tail}`;
}

/** One plain line: what logs and other non-terminals get. */
export function formatProgress(u: ProgressUpdate, width = BAR_WIDTH): string {
  const frac = u.total > 0 ? Math.min(1, u.done / u.total) : 0;
  const filled = Math.round(frac * width);
  return `${u.label} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${formatProgressTail(u)}`;
}

interface BarPayload {
  head: string;
  tail: string;
}

/** cli-progress draws the bar and redraws in place; the text around it is ours, from the progress events (their ETA included). */
const BAR_OPTIONS: cliProgress.Options = {
  format: (options, params, payload: BarPayload) => `${payload.head}${cliProgress.Format.BarFormat(params.progress, options)} ${payload.tail}`,
  barsize: BAR_WIDTH,
  barCompleteChar: '█',
  barIncompleteChar: '░',
  hideCursor: null,
  // trim each line to the terminal's width instead of switching the terminal's own wrapping off
  linewrap: true,
  gracefulExit: false,
  emptyOnZero: true,
};

function payload(head: string, u: ProgressUpdate): BarPayload {
  return { head: `${head}${u.label} `, tail: formatProgressTail(u) };
}

type Timed = { timer?: NodeJS.Timeout | null };

/** cli-progress redraws on a timer; an unfinished bar (work that threw) must not keep the process alive. */
class UnrefSingleBar extends cliProgress.SingleBar {
  override render(): void {
    super.render();
    (this as unknown as Timed).timer?.unref();
  }
}

class UnrefMultiBar extends cliProgress.MultiBar {
  override update(): void {
    super.update();
    (this as unknown as Timed).timer?.unref();
  }
}

/** Marks a progress display in a notebook's outputs, so that readers of the outputs can tell it from a table. */
export const PROGRESS_METADATA = { 'pbe-lab': 'progress' };

/** A bar in a notebook: HTML for Jupyter, the terminal's line for text viewers. */
function progressBundle(head: string, u: ProgressUpdate): Record<string, string> {
  const frac = u.total > 0 ? Math.min(1, u.done / u.total) : 0;
  return {
    'text/html': `<div style="font-family: monospace; white-space: pre-wrap">${escapeHtml(`${head}${u.label}`)} <progress value="${frac.toFixed(4)}" max="1" style="width: 16em; vertical-align: middle"></progress> ${escapeHtml(formatProgressTail(u))}</div>`,
    'text/plain': `${head}${formatProgress(u)}`,
  };
}

/**
 * In a notebook, one display per bar, updated in place (update_display_data, as tqdm's notebook
 * bar), at most every `everySec` and when the work finishes: a bar is a label and a total, and
 * another label or total starts another bar below it.
 */
function notebookBars(write: DisplayWriter, everySec: number): (key: string, head: string, u: ProgressUpdate) => void {
  const bars = new Map<string, { id: string; shownAt: number }>();
  return (key, head, u) => {
    const bar = bars.get(key);
    const now = Date.now();
    if (bar && u.done < u.total && now - bar.shownAt < everySec * 1000) return;
    const id = bar?.id ?? randomBytes(8).toString('hex');
    bars.set(key, { id, shownAt: now });
    // Through the writer of the cell running now, which tslab replaces at each execution.
    (kernelDisplay() ?? write)({ data: progressBundle(head, u), metadata: PROGRESS_METADATA, transient: { display_id: id } }, bar !== undefined);
  };
}

/** Redraws a bar on a terminal, and in place in a notebook; elsewhere (CI logs) prints a line every few seconds and when the work finishes. */
export function consoleSink(stream: NodeJS.WriteStream = process.stderr, everySec = 5): ProgressSink {
  const notebook = kernelDisplay();
  if (notebook && stream === process.stderr) {
    const show = notebookBars(notebook, 0.5);
    return (u) => show(`${u.label}\0${u.total}`, '', u);
  }
  if (stream.isTTY) {
    let bar: UnrefSingleBar | null = null;
    let current = '';
    return (u) => {
      const key = `${u.label}\0${u.total}`;
      if (bar === null || key !== current) {
        bar?.stop();
        bar = new UnrefSingleBar({ ...BAR_OPTIONS, stream });
        current = key;
        bar.start(u.total, u.done, payload('', u));
      } else {
        bar.update(u.done, payload('', u));
      }
      if (u.done >= u.total) {
        bar.stop();
        bar = null;
      }
    };
  }
  let lastPrint = 0;
  return (u) => {
    const now = Date.now();
    if (u.done >= u.total || now - lastPrint >= everySec * 1000) {
      lastPrint = now;
      stream.write(`${formatProgress(u)}\n`);
    }
  };
}

/** Progress of a pool's jobs: the job's label, its update, and the worker running it. `close` ends the display. */
export type PoolProgressSink = ((jobLabel: string, update: ProgressUpdate, workerId: number) => void) & { close?(): void };

/**
 * On a terminal, one bar per worker, redrawn in place and relabelled with the job it runs; each
 * finished stage of a job leaves its final line above the bars. In a notebook, one bar per stage of
 * each job, updated in place. Elsewhere each job prints a line every `everySec` seconds and when a
 * stage finishes, so concurrent jobs never garble a line.
 */
export function poolProgressSink(stream: NodeJS.WriteStream = process.stderr, everySec = 5): PoolProgressSink {
  const notebook = kernelDisplay();
  if (notebook && stream === process.stderr) {
    const show = notebookBars(notebook, 0.5);
    return (jobLabel, u) => show(`${jobLabel}\0${u.label}\0${u.total}`, `[${jobLabel}] `, u);
  }
  if (stream.isTTY) {
    let multi: UnrefMultiBar | null = null;
    const bars = new Map<number, { bar: cliProgress.SingleBar; key: string }>();
    const sink: PoolProgressSink = (jobLabel, u, workerId) => {
      // A narrower bar: the job's label comes first on a line of the same width.
      multi ??= new UnrefMultiBar({ ...BAR_OPTIONS, barsize: 12, stream });
      const head = `[${jobLabel}] `;
      const key = `${head}${u.label}\0${u.total}`;
      const slot = bars.get(workerId);
      if (!slot) bars.set(workerId, { bar: multi.create(u.total, u.done, payload(head, u)), key });
      else if (slot.key !== key) {
        slot.bar.start(u.total, u.done, payload(head, u));
        slot.key = key;
      } else slot.bar.update(u.done, payload(head, u));
      if (u.done >= u.total) multi.log(`${head}${formatProgress(u)}\n`);
    };
    sink.close = () => {
      // stop() alone would drop the final lines still queued by log().
      multi?.update();
      multi?.stop();
      multi = null;
      bars.clear();
    };
    return sink;
  }
  const lastPrint = new Map<string, number>();
  return (jobLabel, u) => {
    const now = Date.now();
    if (u.done >= u.total || now - (lastPrint.get(jobLabel) ?? 0) >= everySec * 1000) {
      lastPrint.set(jobLabel, now);
      stream.write(`[${jobLabel}] ${formatProgress(u)}\n`);
    }
  };
}

export const silentSink: ProgressSink = () => {};

/** Tracks work done against a total and reports rate and ETA to a sink. */
export class Progress {
  private done = 0;
  private readonly start = Date.now();

  constructor(
    readonly label: string,
    readonly total: number,
    private readonly sink: ProgressSink = consoleSink(),
    readonly unit = 'it',
  ) {}

  tick(n = 1, detail?: string): void {
    this.done += n;
    this.report(detail);
  }

  set(done: number, detail?: string): void {
    this.done = done;
    this.report(detail);
  }

  private report(detail?: string): void {
    const elapsedSec = (Date.now() - this.start) / 1000;
    const rate = elapsedSec > 0 ? this.done / elapsedSec : 0;
    const etaSec = rate > 0 ? Math.max(0, (this.total - this.done) / rate) : null;
    this.sink({ label: this.label, done: this.done, total: this.total, unit: this.unit, elapsedSec, etaSec, rate, detail });
  }
}
