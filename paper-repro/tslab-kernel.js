#!/usr/bin/env node
// The command the Jupyter kernel spec runs (`npm run kernel` registers it). It starts tslab so that a
// notebook can `import * as pbe from 'pbe-lab'`, wherever Jupyter starts the kernel:
// - tslab compiles with rootDir = its working directory, so from notebooks/ an import of ../src is
//   "not under rootDir": the kernel works at the project root;
// - tslab type-checks imported .ts with its own TypeScript 5.0 and settings, where the library's
//   sources (written for TypeScript 5.9, strict) do not all check: it reads the declarations that
//   tsc emits into dist/ instead (package.json "types"), refreshed here incrementally;
// - tslab ignores package "exports", so `pbe-lab` resolves through node_modules/pbe-lab, a link to
//   the project; at run time tsx maps it to src/index.ts (tsconfig.json "paths"), so the notebooks
//   run the sources, not a compiled dist/ that may be stale.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
process.chdir(root);
const link = path.join(root, 'node_modules', 'pbe-lab');
if (!fs.existsSync(path.join(link, 'package.json'))) {
  fs.rmSync(link, { force: true });
  fs.symlinkSync('..', link, 'dir');
}
// The reproduction suite builds them once per run and says so, instead of once per notebook.
if (process.env.PBE_KERNEL_TYPES_FRESH !== '1') {
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.notebook.json'], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    process.stderr.write('tslab-kernel: the declarations in build/types could not be refreshed (tsc above); notebooks see the last ones built\n');
  }
}
require('tsx/cjs');
// The zeromq that tslab loads, whose sends must wait rather than throw (zmq-send-queue.ts says why).
const zmq = require(require.resolve('zeromq', { paths: [path.dirname(require.resolve('tslab/package.json'))] }));
require('./zmq-send-queue.ts').queueSends([zmq.Publisher, zmq.Router, zmq.Reply]);
require('tslab/dist/main.js').main();
