import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as zmq from 'zeromq';
import { KernelClient } from '../../paper-repro/kernel';
import { queueSends, sendOwner } from '../../paper-repro/zmq-send-queue';

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

describe("tslab's ZeroMQ sends, queued (paper-repro/zmq-send-queue.ts)", () => {
  it('zeromq refuses the send after 512 in a row with EBUSY; queued, 2,000 in a row arrive in order', async () => {
    const sub = new zmq.Subscriber({ receiveHighWaterMark: 0 });
    const pubs: zmq.Publisher[] = [];
    const publisher = async () => {
      const pub = new zmq.Publisher({ sendHighWaterMark: 0 });
      pubs.push(pub);
      await pub.bind('tcp://127.0.0.1:*');
      return pub;
    };
    try {
      const raw = sendOwner(zmq.Publisher).send.pbeOriginal ?? sendOwner(zmq.Publisher).send;
      const unqueued = await publisher();
      let refusedAt = -1;
      for (let k = 0; k < 2000 && refusedAt < 0; k++) {
        try {
          void raw.call(unqueued, [`x${k}`]).catch(() => undefined);
        } catch (e) {
          assert.equal((e as NodeJS.ErrnoException).code, 'EBUSY');
          refusedAt = k;
        }
      }
      assert.equal(refusedAt, 513, 'the limit tslab runs into (if zeromq changes it, the queue may be needless)');

      queueSends([zmq.Publisher, zmq.Router, zmq.Reply]);
      queueSends([zmq.Publisher]);
      const pub = await publisher();
      sub.connect(pub.lastEndpoint!);
      sub.subscribe();
      // a subscription reaches the publisher asynchronously; a probe says when it has
      const probed = sub.receive();
      let answered = false;
      void probed.then(() => (answered = true));
      while (!answered) {
        void pub.send('probe');
        await new Promise((r) => setTimeout(r, 50));
      }
      const sends: Promise<void>[] = [];
      for (let k = 0; k < 2000; k++) sends.push(pub.send(String(k)));
      await Promise.all(sends);
      const got: string[] = [];
      while (got.length < 2000) {
        const [m] = await sub.receive();
        if (m.toString() !== 'probe') got.push(m.toString());
      }
      assert.deepEqual(
        got,
        Array.from({ length: 2000 }, (_, k) => String(k)),
      );
    } finally {
      sub.close();
      for (const p of pubs) p.close();
    }
  });
});
