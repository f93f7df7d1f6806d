#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so there is no build step to forget and no stale output.
require('tsx/cjs');
require('../src/cli/main.ts').main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    const debug = process.env.PBE_DEBUG === '1';
    console.error(`pbe: ${debug && err && err.stack ? err.stack : (err && err.message) || String(err)}`);
    if (!debug) console.error('(set PBE_DEBUG=1 for the stack trace)');
    process.exitCode = 1;
  },
);
