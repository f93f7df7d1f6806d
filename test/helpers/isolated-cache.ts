import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Loaded by .mocharc before any test file: the default cache of the whole run is a fresh
 * temporary folder, removed at the end, so a test that forgets to pass its own cache can neither
 * read stale artifacts from data-cache/ (or a shared PBE_CACHE_DIR) nor leave any behind.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-test-cache-'));
process.env.PBE_CACHE_DIR = dir;

export const mochaHooks = {
  afterAll(): void {
    fs.rmSync(dir, { recursive: true, force: true });
  },
};
