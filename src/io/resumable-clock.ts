import * as fs from 'node:fs';
import { writeFileAtomic } from '../cache';

/**
 * The wall time of work that resumes across processes (a defense stopped with a session and
 * finished in the next): the seconds of earlier attempts, kept in a small file, plus this
 * attempt's. The work calls `tick()` as it goes (from its progress), which rewrites the file once
 * `everyMs` has passed, and the file is rewritten when the work stops; a killed process loses at
 * most `everyMs` and one step of the count, never the count before it. A timer would not do: a
 * training loop that only awaits settled promises never lets one fire.
 */
export class ResumableClock {
  private readonly started = Date.now();
  private readonly before: number;
  private savedAt = Date.now();

  constructor(
    private readonly file: string,
    private readonly everyMs = 30_000,
  ) {
    this.before = readSeconds(file);
  }

  /** Keeps the count on disk once `everyMs` has passed since it was last kept. */
  tick(): void {
    if (Date.now() - this.savedAt >= this.everyMs) this.save();
  }

  /** Earlier attempts' seconds. */
  get earlier(): number {
    return this.before;
  }

  /** Earlier attempts' seconds and this one's so far. */
  seconds(): number {
    return this.before + (Date.now() - this.started) / 1000;
  }

  /** Stops counting: a finished work's file is removed; an unfinished one's keeps the count for the next attempt. */
  stop(finished: boolean): void {
    if (finished) fs.rmSync(this.file, { force: true });
    else this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, JSON.stringify({ seconds: this.seconds() }));
    this.savedAt = Date.now();
  }
}

function readSeconds(file: string): number {
  if (!fs.existsSync(file)) return 0;
  try {
    const seconds = (JSON.parse(fs.readFileSync(file, 'utf8')) as { seconds?: unknown }).seconds;
    if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) return seconds;
  } catch {
    // unreadable: reported below
  }
  // Only a count of time is lost, not work: say so and count from 0.
  process.stderr.write(`${file}: not a record of earlier attempts' seconds; counting this work's time from 0\n`);
  return 0;
}
