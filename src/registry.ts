/**
 * Named definitions with validated options: what attacks (src/attacks/backdoor/registry.ts) and
 * defenses register on. A definition declares every option it accepts with its default (the
 * reference setting) and where that default comes from; `resolve` fills in defaults, then a
 * profile's settings, then the caller's, checking every name and type, so the result can go into
 * a cache key as it is.
 *
 *   const DEFENSES = new DefinitionRegistry<DefenseDefinition>('defense');
 *   DEFENSES.register('pbe', { defaults: { eps: 0.05 }, provenance: { eps: 'paper' }, run… });
 *   DEFENSES.resolve('pbe', { eps: 0.1 }, 'cpu');   // { eps: 0.1 }
 */

/** Option values are flat JSON (lists of numbers allowed). */
export type OptionValue = number | string | boolean | readonly number[];
export type Options = Record<string, OptionValue>;

export interface Definition<O extends Options = Options> {
  /** every option accepted, with its default */
  defaults: Readonly<O>;
  /** where each default comes from (paper, reference code, BackdoorBench, or our choice); one entry per option */
  provenance: Readonly<Record<keyof O & string, string>>;
  /** per profile name, the options that differ from the defaults (a smaller schedule on a CPU), and why */
  profiles?: Partial<Record<string, { options: Partial<O>; provenance: string }>>;
  /** checks the resolved options beyond their types (ranges, consistency); throws naming `<name>.<option>` */
  validate?(options: O): void;
}

function sameType(value: unknown, like: OptionValue): boolean {
  if (Array.isArray(like)) return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
  return typeof value === typeof like && (typeof value !== 'number' || !Number.isNaN(value));
}

function describeType(like: OptionValue): string {
  return Array.isArray(like) ? 'a list of numbers' : `a ${typeof like}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- definitions differ in their option types; resolve checks options against each one's defaults
export class DefinitionRegistry<D extends Definition<any>> {
  private readonly byName = new Map<string, D>();

  /** `kind` names the things registered in every message ('attack', 'defense'). */
  constructor(readonly kind: string) {}

  register(name: string, definition: D): void {
    if (this.byName.has(name)) throw new Error(`register ${this.kind}: a ${this.kind} named '${name}' is already registered`);
    for (const key of Object.keys(definition.defaults)) {
      if (!(key in definition.provenance)) throw new Error(`register ${this.kind} '${name}': option '${key}' has no provenance`);
    }
    this.byName.set(name, definition);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): D {
    const def = this.byName.get(name);
    if (!def) throw new Error(`${this.kind}: unknown ${this.kind} '${name}'; expected one of ${this.names().join(', ') || '(none registered)'}`);
    return def;
  }

  /** Defaults, then the profile's settings, then `given`; every name and type checked, then the definition's own validation. */
  resolve(name: string, given: Readonly<Record<string, unknown>> = {}, profile?: string): D['defaults'] {
    const def = this.get(name);
    for (const [key, value] of Object.entries(given)) {
      if (!(key in def.defaults)) {
        const valid = Object.keys(def.defaults);
        throw new Error(`${this.kind} '${name}': unknown option '${key}'; ${valid.length > 0 ? `valid options: ${valid.join(', ')}` : 'it takes no options'}`);
      }
      if (!sameType(value, def.defaults[key])) throw new Error(`${name}.${key}: expected ${describeType(def.defaults[key])}, got ${JSON.stringify(value)}`);
    }
    const fromProfile = profile === undefined ? {} : (def.profiles?.[profile]?.options ?? {});
    const options = { ...def.defaults, ...fromProfile, ...given };
    def.validate?.(options);
    return options;
  }

  /** Where each resolved option's value comes from: the caller ('given'), the profile, or the definition's provenance. */
  provenance(name: string, given: Readonly<Record<string, unknown>> = {}, profile?: string): Record<string, string> {
    const def = this.get(name);
    const p = profile === undefined ? undefined : def.profiles?.[profile];
    return Object.fromEntries(
      Object.keys(def.defaults).map((key) => [
        key,
        key in given ? 'given' : p && key in p.options ? `profile ${profile}: ${p.provenance}` : def.provenance[key],
      ]),
    );
  }
}
