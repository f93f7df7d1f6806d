import assert from 'node:assert/strict';
import * as os from 'node:os';
import { KernelClient } from '../../paper-repro/kernel';

/** The client's start-up failures, without a real kernel; test/interop/jupyter.test.ts drives tslab itself. */
describe('Jupyter kernel client: a kernel that cannot start', () => {
  const spec = (argv: string[]) => ({ argv, display_name: 'x', language: 'typescript' });

  it('says which command could not be started', async () => {
    await assert.rejects(
      KernelClient.start(spec(['/nonexistent/kernel', '{connection_file}']), { cwd: os.tmpdir() }),
      /exited \(code -1\) before it was ready:\n\/nonexistent\/kernel .*ENOENT/,
    );
  });

  it('says what a kernel printed when it exited before answering', async () => {
    const argv = [process.execPath, '-e', "console.error('no kernel here: ' + process.argv[1]); process.exit(3)", '{connection_file}'];
    await assert.rejects(KernelClient.start(spec(argv), { cwd: os.tmpdir() }), /exited \(code 3\) before it was ready:\nno kernel here: .*connection\.json/);
  });

  it('gives up on a kernel that never answers, after the start-up time', async () => {
    const argv = [process.execPath, '-e', 'setInterval(() => {}, 1000)', '{connection_file}'];
    const t0 = Date.now();
    await assert.rejects(KernelClient.start(spec(argv), { cwd: os.tmpdir(), startupTimeoutSec: 2 }), /did not answer within 2 s/);
    assert.ok(Date.now() - t0 < 15_000, 'and shuts it down (SIGTERM) instead of waiting for it');
  });
});
