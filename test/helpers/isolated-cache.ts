import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Loaded by .mocharc before any test file: each run of root hooks (the whole run in serial mode,
 * each file in parallel mode) gets a fresh temporary default cache, removed when it ends, so a test
 * that forgets to pass its own cache can neither read stale artifacts from data-cache/ (or a shared
 * PBE_CACHE_DIR) nor leave any behind for the next file.
 */
let dir: string | null = null;

// Test files run in parallel, one worker per core (.mocharc's jobs), as the job pool's workers do:
// each runs oneDNN on one thread unless told otherwise.
process.env.PBE_NATIVE_THREADS ??= '1';

function fresh(): void {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-test-cache-'));
  process.env.PBE_CACHE_DIR = dir;
}

fresh();

export const mochaHooks = {
  beforeAll(): void {
    if (dir === null) fresh();
  },
  afterAll(): void {
    if (dir !== null) fs.rmSync(dir, { recursive: true, force: true });
    dir = null;
  },
};
