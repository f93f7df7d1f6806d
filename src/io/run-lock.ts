import * as fs from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';

/** Is a process with this pid running (on this machine)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims a training run's checkpoint folder for this process and thread until `release` is
 * called: two trainers resuming from and overwriting one folder would corrupt each other's
 * checkpoints. A lock left by a process that is gone is taken over.
 */
export function claimRun(runDir: string): { release(): void } {
  const lock = `${runDir}.lock`;
  const owner = `${process.pid}:${threadId}`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(lock, owner, { flag: 'wx' });
      return {
        release() {
          if (fs.existsSync(lock) && fs.readFileSync(lock, 'utf8') === owner) fs.rmSync(lock, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = fs.readFileSync(lock, 'utf8');
    const [pid, thread] = holder.split(':').map(Number);
    const stale = !(Number.isInteger(pid) && pid > 0) || !alive(pid);
    if (!stale) {
      throw new Error(
        `another trainer (pid ${pid}, thread ${thread}) is training into ${runDir}; wait for it to finish ` +
          `(the model then loads from the cache), or delete ${lock} if that process is gone`,
      );
    }
    fs.rmSync(lock, { force: true });
  }
}
