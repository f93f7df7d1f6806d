import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadVerified } from '../../src/data/download';

describe('data/download', () => {
  it('gives up on a server that stops sending, and removes the partial file', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(100));
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-dl-'));
    const dest = path.join(dir, 'file.tar.gz');
    try {
      await assert.rejects(
        downloadVerified(`http://127.0.0.1:${port}/file.tar.gz`, dest, {
          expectedMd5: '0'.repeat(32),
          progress: false,
          stallTimeoutMs: 300,
        }),
        /failed after 100 bytes: no data for 0\.3 s/,
      );
      assert.equal(fs.existsSync(dest), false);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
