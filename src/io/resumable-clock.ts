import * as fs from 'node:fs';
import { writeFileAtomic } from '../cache';

/**
 * The wall time of work that resumes across processes (a defense stopped with a session and
 * finished in the next): the seconds of earlier attempts, kept in a small file that is rewritten
 * every `everyMs` and when the work stops, plus this attempt's. A crash loses at most `everyMs` of
 * the count, never the count before it.
 */
export class ResumableClock {
  private readonly started = Date.now();
  private readonly before: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly file: string,
    everyMs = 30_000,
  ) {
    this.before = readSeconds(file);
    this.timer = setInterval(() => this.save(), everyMs);
    this.timer.unref();
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
    clearInterval(this.timer);
    if (finished) fs.rmSync(this.file, { force: true });
    else this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, JSON.stringify({ seconds: this.seconds() }));
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
