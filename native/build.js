#!/usr/bin/env node
// Builds the optional oneDNN addon (the `native` backend) at install time. Where oneDNN 2.x's
// headers are not found, or the build fails, it prints one line and exits 0: pbe-lab then runs on
// wasm. PBE_NATIVE=0 skips the build; PBE_NATIVE=require (CI) makes any failure an error.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const mode = (process.env.PBE_NATIVE || '').trim().toLowerCase();
const required = mode === 'require' || mode === 'required';

function skip(why) {
  if (required) {
    console.error(`pbe-lab: the native (oneDNN) backend was required (PBE_NATIVE=require) but ${why}`);
    process.exit(1);
  }
  console.log(`pbe-lab: native (oneDNN) backend skipped: ${why}; the wasm backend is used`);
  process.exit(0);
}

if (mode === '0' || mode === 'off' || mode === 'false') skip('PBE_NATIVE=0');
if (process.platform !== 'linux') skip(`it is built for Linux only (this is ${process.platform})`);

const roots = [process.env.DNNL_ROOT, '/usr', '/usr/local'].filter(Boolean);
const root = roots.find((r) => fs.existsSync(path.join(r, 'include/oneapi/dnnl/dnnl.hpp')));
if (!root) skip(`oneDNN's headers were not found under ${roots.join(', ')} (Debian/Ubuntu: apt-get install libdnnl-dev)`);
const versionHeader = fs.readFileSync(path.join(root, 'include/oneapi/dnnl/dnnl_version.h'), 'utf8');
const major = Number((/#define DNNL_VERSION_MAJOR (\d+)/.exec(versionHeader) || [])[1]);
// oneDNN 3 removed the operation descriptors (`::desc`) that the addon's 2.x API calls use.
if (major !== 2) skip(`it needs oneDNN 2.x, found ${major || 'an unknown version'} in ${root}`);

const gyp = process.env.npm_config_node_gyp || path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
if (!fs.existsSync(gyp)) skip(`node-gyp was not found (${gyp})`);
const args = [gyp, 'rebuild'];
// npm passes its `nodedir` setting to scripts; else Node's own headers beside its binary, when
// installed (distribution packages); node-gyp downloads headers only without either.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (fs.existsSync(path.join(prefix, 'include/node/common.gypi')) ? prefix : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { cwd: __dirname, env: { ...process.env, DNNL_ROOT: root }, encoding: 'utf8' });
if (r.status !== 0) {
  const tail = `${r.stdout || ''}${r.stderr || ''}`
    .split('\n')
    .filter((l) => /error|ERR!/.test(l))
    .slice(0, 8)
    .join('\n');
  if (required) console.error(tail);
  skip(`its build failed (node-gyp exit ${r.status}${required ? '' : '; rerun `npm run build:native` to see why'})`);
}
console.log(`pbe-lab: native (oneDNN ${major}.x) backend built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
