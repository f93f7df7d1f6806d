import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { consoleSink, Progress } from '../progress';

/** The env value, trimmed, or undefined when unset or blank. */
export function envValue(name: string): string | undefined {
  const v = process.env[name];
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

export function checkLimitPerClass(dataset: string, limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new Error(`${dataset}: limitPerClass must be a positive integer, got ${limit}`);
  }
}

/** Orders 'img_2' before 'img_10', so "the first n images" means what a person expects. */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A cheap identity for a set of files (path, size, mtime) plus some text, for cache keys:
 * editing, adding or replacing any file changes it without reading every image. `where`
 * says which listing named the file, for the error when it does not exist.
 */
export function filesFingerprint(files: Array<{ file: string; where: string }>, text: string): string {
  const hash = createHash('sha256').update(text);
  for (const { file, where } of files) {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      throw new Error(`${where}: image ${file} does not exist`);
    }
    hash.update(`\n${file}\t${st.size}\t${st.mtimeMs}`);
  }
  return hash.digest('hex');
}

/**
 * A tick callback for a long loop: reports to the shared progress bar about 200 times in
 * all (not per item, which would flood a terminal), or does nothing when `enabled` is false.
 */
export function progressTicker(label: string, total: number, enabled: boolean): (done: number) => void {
  if (!enabled || total === 0) return () => {};
  const progress = new Progress(label, total, consoleSink(), 'images');
  const step = Math.max(1, Math.floor(total / 200));
  return (done) => {
    if (done % step === 0 || done === total) progress.set(done);
  };
}
