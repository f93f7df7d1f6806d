#!/usr/bin/env node
// In a checkout the CLI is the TypeScript source run through tsx, so there is no build step to
// forget and no stale output; an installed package has only the compiled dist/.
const fs = require('node:fs');
const path = require('node:path');

const source = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
let cli;
if (fs.existsSync(source)) {
  require('tsx/cjs');
  cli = require(source);
} else {
  cli = require('../dist/cli/main.js');
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    const debug = process.env.PBE_DEBUG === '1';
    console.error(`pbe: ${debug && err && err.stack ? err.stack : (err && err.message) || String(err)}`);
    if (!debug) console.error('(set PBE_DEBUG=1 for the stack trace)');
    process.exitCode = 1;
  },
);
