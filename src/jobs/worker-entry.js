// A worker thread starts with a fresh module loader: register tsx so that worker.ts and the
// job modules it loads can be TypeScript, however the parent registered it.
require('tsx/cjs');
require('./worker.ts');
