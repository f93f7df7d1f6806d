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

export function formatProgress(u: ProgressUpdate, width = 24): string {
  const frac = u.total > 0 ? Math.min(1, u.done / u.total) : 0;
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const rate = u.unit === 'B' ? `${formatCount(u.rate, 'B')}/s` : `${u.rate.toFixed(1)} ${u.unit}/s`;
  const pct = (100 * frac).toFixed(0).padStart(3);
  const tail = u.detail ? `  ${u.detail}` : '';
  const counts = u.unit === 'B' ? `${formatCount(u.done, 'B')}/${formatCount(u.total, 'B')}` : `${u.done}/${u.total} ${u.unit}`;
  return `${u.label} ${bar} ${pct}% ${counts}  ${rate}  ETA ${formatDuration(u.etaSec)}${tail}`;
}

/** Redraws one line on a terminal; elsewhere (CI logs, notebooks) prints a line every few seconds. */
export function consoleSink(stream: NodeJS.WriteStream = process.stderr, everySec = 5): ProgressSink {
  let lastPrint = 0;
  return (u) => {
    const finished = u.done >= u.total;
    if (stream.isTTY) {
      stream.write(`\r${formatProgress(u)}\x1b[K${finished ? '\n' : ''}`);
      return;
    }
    const now = Date.now();
    if (finished || now - lastPrint >= everySec * 1000) {
      lastPrint = now;
      stream.write(`${formatProgress(u)}\n`);
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
