import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';

/** Is a process with this pid running (on this machine)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How long a command waits for another one computing the same thing: PBE_LOCK_WAIT seconds, default 12 h (a CIFAR-10 ResNet at `cpu` trains for hours). */
export function lockWaitSeconds(): number {
  const raw = process.env.PBE_LOCK_WAIT;
  if (raw === undefined || raw.trim() === '') return 12 * 3600;
  const s = Number(raw);
  if (!(Number.isFinite(s) && s >= 0)) throw new Error(`PBE_LOCK_WAIT: expected a number of seconds ≥ 0, got '${raw}'`);
  return s;
}

export interface ClaimOptions {
  /** what the holder computes, for the waiting message, e.g. "the model of runs/ab12…" */
  what?: string;
  /** seconds to wait for a live holder before giving up; default lockWaitSeconds() */
  waitSeconds?: number;
  /** how often the lock is looked at again, in ms (default 1000) */
  pollMs?: number;
  /** told once when the claim has to wait; default: a line on stderr */
  onWait?: (message: string) => void;
}

/**
 * Claims `runDir` (a training run's checkpoint folder, or any result being computed) for this
 * process and thread until `release` is called: two trainers resuming from and overwriting one
 * folder would corrupt each other's checkpoints, and two identical commands would do the same
 * work twice. While another live process or thread holds it, the claim waits (saying so once)
 * up to `waitSeconds`; the caller then looks in the cache again, where the holder left its
 * result. A lock left by a process that is gone is taken over.
 *
 * A pid file rather than proper-lockfile's mtime lease: a synchronous training step can block
 * the event loop for longer than any lease, and would then look dead.
 */
export async function claimRun(runDir: string, opts: ClaimOptions = {}): Promise<{ release(): void }> {
  const lock = `${runDir}.lock`;
  const owner = `${process.pid}:${threadId}`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const waitSeconds = opts.waitSeconds ?? lockWaitSeconds();
  const started = Date.now();
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(lock, owner, { flag: 'wx' });
      removeDeadLocks(path.dirname(lock));
      return {
        release() {
          if (fs.existsSync(lock) && fs.readFileSync(lock, 'utf8') === owner) fs.rmSync(lock, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: string;
    try {
      holder = fs.readFileSync(lock, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw e;
    }
    const [pid, thread] = holder.split(':').map(Number);
    if (!(Number.isInteger(pid) && pid > 0) || !alive(pid)) {
      // Only the stale content is removed: a lock a live process wrote meanwhile stays.
      if (readOrNull(lock) === holder) fs.rmSync(lock, { force: true });
      continue;
    }
    const waited = (Date.now() - started) / 1000;
    const who = `pid ${pid}${pid === process.pid ? `, thread ${thread}` : ''}`;
    if (waited >= waitSeconds) {
      throw new Error(
        `gave up after ${waited.toFixed(0)} s waiting for ${who}, which is computing ${opts.what ?? runDir} (lock ${lock}); ` +
          `run again once it is done (the result then loads from the cache), wait longer with PBE_LOCK_WAIT=<seconds>, or delete the lock if that process is not this program`,
      );
    }
    if (!told) {
      told = true;
      const message = `waiting for ${who}, which is computing ${opts.what ?? runDir}; the result is then read from the cache (up to ${waitSeconds} s, PBE_LOCK_WAIT)`;
      (opts.onWait ?? ((m: string) => void process.stderr.write(`${m}\n`)))(message);
    }
    await sleep(Math.min(opts.pollMs ?? 1000, Math.max(1, (waitSeconds - waited) * 1000)));
  }
}

/** Removes the lock files in `dir` whose process is gone (killed), which no claim of theirs would take over. */
export function removeDeadLocks(dir: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.lock')) continue;
    const file = path.join(dir, name);
    const holder = readOrNull(file);
    const pid = Number(holder?.split(':')[0]);
    if (holder === null || (Number.isInteger(pid) && pid > 0 && alive(pid))) continue;
    if (readOrNull(file) === holder) {
      fs.rmSync(file, { force: true });
      removed.push(name);
    }
  }
  return removed;
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
