import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { hashFile } from '../cache';
import { consoleSink, Progress } from '../progress';

export function md5File(file: string): string {
  return hashFile(file, 'md5');
}

export interface DownloadOptions {
  /** Hex md5 the downloaded bytes must have. */
  expectedMd5: string;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
  /** Give up when no byte arrives for this long (default 60 s): a stalled server must not hang a run. */
  stallTimeoutMs?: number;
}

/**
 * Download `url` to `dest`, verifying the md5 before returning. On any failure — HTTP error,
 * short body, checksum mismatch — `dest` is removed and the error says what went wrong.
 */
export async function downloadVerified(url: string, dest: string, opts: DownloadOptions): Promise<void> {
  const expected = opts.expectedMd5.toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(expected)) throw new Error(`download ${url}: expected md5 '${opts.expectedMd5}' is not 32 hex digits`);
  const showProgress = opts.progress ?? true;
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  const abort = new AbortController();
  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => abort.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  };
  const out = fs.openSync(dest, 'w');
  let closed = false;
  try {
    let response: Response;
    armStallTimer();
    try {
      response = await fetch(url, { signal: abort.signal });
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      throw new Error(`download ${url} failed: ${cause?.message ?? (e as Error).message}`, { cause: e });
    }
    if (!response.ok || !response.body) throw new Error(`download ${url} failed: HTTP ${response.status} ${response.statusText}`);
    const lengthHeader = response.headers.get('content-length');
    const total = lengthHeader ? Number(lengthHeader) : null;
    const hash = createHash('md5');
    // Only a known size gives a meaningful bar and ETA; servers that omit it get none.
    const bar = showProgress && total ? new Progress(`downloading ${new URL(url).pathname.split('/').pop()}`, total, consoleSink(), 'B') : null;
    let received = 0;
    let lastDraw = 0;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        armStallTimer();
        hash.update(chunk);
        fs.writeSync(out, chunk);
        received += chunk.length;
        const now = Date.now();
        if (bar && (now - lastDraw >= 250 || received === total)) {
          lastDraw = now;
          bar.set(received);
        }
      }
    } catch (e) {
      throw new Error(
        `download ${url} failed after ${received} bytes: ${abort.signal.aborted ? (abort.signal.reason as Error).message : (e as Error).message}`,
        { cause: e },
      );
    }
    fs.fsyncSync(out);
    fs.closeSync(out);
    closed = true;
    if (total !== null && received !== total) {
      throw new Error(`download ${url} is incomplete: received ${received} of ${total} bytes`);
    }
    const actual = hash.digest('hex');
    if (actual !== expected) {
      throw new Error(`download ${url}: md5 ${actual} does not match the expected ${expected}; refusing the file`);
    }
  } catch (e) {
    if (!closed) fs.closeSync(out);
    fs.rmSync(dest, { force: true });
    throw e;
  } finally {
    clearTimeout(stallTimer);
  }
}
