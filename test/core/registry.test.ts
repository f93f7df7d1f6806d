import assert from 'node:assert/strict';
import { type Definition, DefinitionRegistry } from '../../src/registry';

type Opts = { eps: number; steps: number[]; mode: string; clean: boolean };

describe('DefinitionRegistry (what attacks and defenses register on)', () => {
  const make = () => {
    const r = new DefinitionRegistry<Definition<Opts>>('defense');
    r.register('pbe', {
      defaults: { eps: 0.05, steps: [1, 2], mode: 'linf', clean: true },
      provenance: { eps: 'paper', steps: 'reference code', mode: 'paper', clean: 'ours' },
      schedules: { cpu: { options: { eps: 0.1 }, provenance: 'fewer images' } },
      validate: (o) => {
        if (o.eps <= 0) throw new Error(`pbe.eps: expected a number > 0, got ${o.eps}`);
      },
    });
    return r;
  };

  it('resolves defaults, then the profile, then the given options, and says where each value comes from', () => {
    const r = make();
    assert.deepEqual(r.names(), ['pbe']);
    assert.deepEqual(r.resolve('pbe'), { eps: 0.05, steps: [1, 2], mode: 'linf', clean: true });
    assert.equal(r.resolve('pbe', {}, 'cpu').eps, 0.1);
    assert.equal(r.resolve('pbe', { eps: 0.2 }, 'cpu').eps, 0.2);
    assert.deepEqual(r.resolve('pbe', { steps: [3] }).steps, [3]);
    assert.deepEqual(r.provenance('pbe', { mode: 'l2' }, 'cpu'), { eps: 'profile cpu: fewer images', steps: 'reference code', mode: 'given', clean: 'ours' });
  });

  it('rejects unknown names, unknown or mistyped options, invalid values, and definitions without provenance', () => {
    const r = make();
    assert.throws(() => r.get('anp'), /^Error: defense: unknown defense 'anp'; expected one of pbe$/);
    assert.throws(() => r.resolve('pbe', { epz: 1 }), /defense 'pbe': unknown option 'epz'; valid options: eps, steps, mode, clean/);
    assert.throws(() => r.resolve('pbe', { eps: '1' }), /pbe\.eps: expected a number, got "1"/);
    assert.throws(() => r.resolve('pbe', { eps: NaN }), /pbe\.eps: expected a number, got null/);
    assert.throws(() => r.resolve('pbe', { steps: [1, 'x'] }), /pbe\.steps: expected a list of numbers/);
    assert.throws(() => r.resolve('pbe', { eps: -1 }), /pbe\.eps: expected a number > 0, got -1/);
    assert.throws(() => r.register('pbe', r.get('pbe')), /a defense named 'pbe' is already registered/);
    const noProvenance = { defaults: { eps: 1 }, provenance: {} } as unknown as Definition<Opts>;
    assert.throws(() => r.register('nc', noProvenance), /register defense 'nc': option 'eps' has no provenance/);
  });
});
