import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AttackConfig } from '../../src/attacks/backdoor/attack';
import {
  attackDefinition,
  attackIdentity,
  attackNames,
  buildAttack,
  checkAttack,
  registerAttack,
  resolveAttackConfig,
} from '../../src/attacks/backdoor/registry';
import { canonicalJson } from '../../src/cache';
import { trainDynamicInfected } from '../../src/attacks/backdoor/dynamic/strategy';
import { poisonAndTrain } from '../../src/attacks/backdoor/run';
import { encodePng } from '../../src/image/png';
import { useBackend } from '../helpers/backend';

const base = (name: string, extra: Partial<AttackConfig> = {}): AttackConfig => ({
  name,
  rule: { mode: 'all2one', target: 0, numClasses: 10 },
  inputShape: [28, 28, 1],
  seed: 5,
  ...extra,
});

describe('attack registry', function () {
  useBackend('wasm');

  it('has the four static attacks, each with a provenance for every default', () => {
    for (const name of ['badnets', 'blend', 'sig', 'wanet']) {
      assert.ok(attackNames().includes(name), name);
      const def = attackDefinition(name);
      assert.deepEqual(Object.keys(def.provenance).sort(), Object.keys(def.defaults).sort(), `${name} provenance`);
    }
  });

  it('has the dynamic attack as a training strategy: no static trigger, no options, checked before training', () => {
    assert.ok(attackNames().includes('dynamic'));
    const def = attackDefinition('dynamic');
    assert.equal(def.train, trainDynamicInfected);
    assert.equal(def.build, undefined);
    for (const name of ['badnets', 'blend', 'sig', 'wanet']) assert.equal(attackDefinition(name).train, undefined, `${name} uses ${poisonAndTrain.name}`);
    assert.throws(() => buildAttack(base('dynamic')), /attack 'dynamic' learns its trigger .* no static trigger/);
    checkAttack(base('dynamic'));
    assert.throws(() => checkAttack(base('dynamic', { options: { width: 8 } })), /attack 'dynamic': unknown option 'width'; it takes no options/);
    assert.throws(() => checkAttack(base('sig', { rule: { mode: 'all2all', target: 0, numClasses: 10 } })), /sig\.cleanLabel/);
    assert.throws(() => registerAttack('both', { defaults: {}, provenance: {} }), /give either build .* or train/);
  });

  it('fills in the defaults, and the resolved config is plain JSON that rebuilds the same attack', () => {
    const a = buildAttack(base('wanet', { options: { s: 0.75 } }));
    assert.deepEqual(a.config.options, { k: 4, s: 0.75, crossRatio: 2 });
    assert.equal(a.crossRatio, 2);
    assert.ok(a.applyCross);
    assert.deepEqual(JSON.parse(JSON.stringify(a.config)), a.config);
    assert.deepEqual(resolveAttackConfig(a.config), a.config);
    assert.deepEqual(buildAttack(base('sig')).config.options, { delta: 20 / 255, frequency: 6, cleanLabel: true, targetShare: 1 });
    assert.equal(buildAttack(base('sig')).cleanLabel, true);
    assert.equal(buildAttack(base('blend')).config.options.alpha, 0.2);
    assert.equal(buildAttack(base('wanet', { options: { crossRatio: 0 } })).applyCross, undefined);
  });

  it('gives clear errors: unknown attack, target out of range, unknown or mistyped option', () => {
    assert.throws(() => buildAttack(base('trojan')), /unknown attack 'trojan'; expected one of badnets, blend, sig, wanet/);
    for (const target of [-1, 10, 1.5]) {
      assert.throws(
        () => buildAttack(base('badnets', { rule: { mode: 'all2one', target, numClasses: 10 } })),
        /attack target label: expected an integer in \[0, 9\], got/,
      );
    }
    assert.throws(() => buildAttack(base('badnets', { rule: { mode: 'some2one' as 'all2one', target: 0, numClasses: 10 } })), /attack mode/);
    assert.throws(
      () => buildAttack(base('blend', { options: { alpah: 0.1 } })),
      /attack 'blend': unknown option 'alpah'; valid options: alpha, pattern, patternSha256/,
    );
    assert.throws(() => buildAttack(base('blend', { options: { alpha: '0.1' } })), /blend\.alpha: expected a number, got "0\.1"/);
    assert.throws(
      () => buildAttack(base('badnets', { inputShape: [28, 28] as unknown as [number, number, number] })),
      /badnets: input shape must be three positive integers/,
    );
    assert.throws(() => buildAttack(base('sig', { rule: { mode: 'all2all', target: 0, numClasses: 10 } })), /sig\.cleanLabel: .* needs mode 'all2one'/);
    for (const targetShare of [0, 1.5, -0.2]) {
      assert.throws(() => buildAttack(base('sig', { options: { targetShare } })), /sig\.targetShare: expected a number in \(0, 1\], got/);
    }
    assert.throws(
      () => buildAttack(base('sig', { options: { cleanLabel: false, targetShare: 0.5 } })),
      /sig\.targetShare: applies to the clean-label attack only/,
    );
    assert.throws(() => registerAttack('badnets', attackDefinition('badnets')), /already registered/);
  });

  it("names a request in the experiments' cache keys with the shape their kept results were stored under", () => {
    // These strings are what the defense, budget-rule, observation-over-epochs and budget-sweep
    // entries of a cpu run were keyed by; a change here re-runs hours of CIFAR-10 work.
    assert.equal(
      canonicalJson(attackIdentity({ name: 'blend', mode: 'all2one', target: 0 })),
      '{"mode":"all2one","name":"blend","options":{},"stamp":"after-augment","target":0}',
    );
    assert.equal(
      canonicalJson(attackIdentity({ name: 'badnets', mode: 'all2all', target: 0, options: { patchSize: 3 }, stamp: 'before-augment' })),
      '{"mode":"all2all","name":"badnets","options":{"patchSize":3},"stamp":"before-augment","target":0}',
    );
    assert.throws(() => attackIdentity({ name: 'dynamic', stamp: 'before-augment' }), /only 'after-augment' applies/);
    assert.throws(() => attackIdentity({ name: 'blend', stamp: 'sideways' as never }), /expected one of/);
  });

  it('records a pattern file by checksum, so the config changes with the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-registry-'));
    try {
      const file = path.join(dir, 'p.png');
      fs.writeFileSync(file, encodePng({ width: 4, height: 4, channels: 1, data: new Uint8Array(16).fill(9) }));
      const first = buildAttack(base('blend', { options: { pattern: file } })).config;
      assert.match(first.options.patternSha256 as string, /^[0-9a-f]{64}$/);
      fs.writeFileSync(file, encodePng({ width: 4, height: 4, channels: 1, data: new Uint8Array(16).fill(10) }));
      assert.notEqual(buildAttack(base('blend', { options: { pattern: file } })).config.options.patternSha256, first.options.patternSha256);
      assert.throws(() => buildAttack(first), /the file changed/);
      assert.throws(() => buildAttack(base('blend', { options: { pattern: path.join(dir, 'gone.png') } })), /cannot read the pattern image '.*gone\.png'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
