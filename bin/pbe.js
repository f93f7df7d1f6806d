#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so there is no build step to forget and no stale output.
require('tsx/cjs');
require('../src/cli/main.ts').main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err && err.stack ? err.stack : String(err)); process.exitCode = 1; },
);
