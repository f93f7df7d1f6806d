import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Points PBE_CACHE_DIR at a new temporary folder for the enclosing suite, for the commands it runs
 * through `main` (which take their cache from the environment), then puts back what was there and
 * removes the folder (call it where `before` would go). Returns the folder, once the suite runs.
 */
export function useTempCacheDir(prefix: string): () => string {
  let dir: string | null = null;
  let previous: string | undefined;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    previous = process.env.PBE_CACHE_DIR;
    process.env.PBE_CACHE_DIR = dir;
  });
  after(() => {
    if (previous === undefined) delete process.env.PBE_CACHE_DIR;
    else process.env.PBE_CACHE_DIR = previous;
    if (dir !== null) fs.rmSync(dir, { recursive: true, force: true });
    dir = null;
  });
  return () => {
    if (dir === null) throw new Error('useTempCacheDir: the folder exists only while its suite runs');
    return dir;
  };
}
