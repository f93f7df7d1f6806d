import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Why `target`, a folder to create or fill (`dir`) or a file to write (`file`), cannot be written,
 * or null. Nothing it names is created: the nearest existing folder on its path must take a new
 * file (a probe, removed at once), which also catches read-only mounts and pseudo-filesystems
 * such as /proc, where Node 20's recursive mkdirSync spins forever instead of failing.
 */
export function unwritable(target: string, kind: 'dir' | 'file'): string | null {
  const full = path.resolve(target);
  let dir = full;
  const st = statOrNull(full);
  if (st) {
    if (kind === 'dir' && !st.isDirectory()) return `${full} is a file, not a folder`;
    if (kind === 'file' && st.isDirectory()) return `${full} is a folder, not a file`;
    if (kind === 'file') {
      try {
        fs.accessSync(full, fs.constants.W_OK);
      } catch (e) {
        return `cannot write ${full} (${(e as NodeJS.ErrnoException).code ?? 'not writable'})`;
      }
      dir = path.dirname(full);
    }
  } else {
    do dir = path.dirname(dir);
    while (!statOrNull(dir) && dir !== path.dirname(dir));
    if (!statOrNull(dir)?.isDirectory()) return `${dir} is a file, so ${full} cannot be created under it`;
  }
  const probe = path.join(dir, `.pbe-write-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(probe, '', { flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return `cannot write ${full}: no file can be created in ${dir} (${code})`;
  }
  fs.rmSync(probe, { force: true });
  return null;
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}
