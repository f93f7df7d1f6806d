/**
 * The catalogues' registry. Attacks, defenses, datasets and model architectures are each one
 * `Registry` of named entries, in the shape of tfjs's kernel registry: an interface file, one
 * file per entry, and an explicit list (the catalogue's `all.ts`, as tfjs's
 * register_all_kernels) that the registry registers the first time it is used, so no caller has
 * to import anything for the entries to be there.
 *
 * Attacks and defenses register on a `DefinitionRegistry`: every option an entry accepts is
 * declared with its default (the reference setting) and where that default comes from;
 * `resolve` fills in defaults, then the training profile's schedule, then the caller's options,
 * checking every name and type, so the result can go into a cache key as it is.
 *
 *   const DEFENSES = new DefinitionRegistry<DefenseDefinition>('defense', () => registerAllDefenses(registerDefense));
 *   DEFENSES.register('pbe', { defaults: { eps: 0.05 }, provenance: { eps: 'paper' }, run… });
 *   DEFENSES.resolve('pbe', { eps: 0.1 }, 'cpu');   // { eps: 0.1 }
 */

/** Named entries of one kind; `registerAll` (the catalogue's list) runs once, before the first register or lookup. */
export class Registry<T> {
  private readonly byName = new Map<string, T>();
  private registered = false;

  /** `kind` names the entries in every message ('attack', 'dataset'). */
  constructor(
    readonly kind: string,
    private readonly registerAll?: () => void,
  ) {}

  private ensureRegistered(): void {
    if (this.registered) return;
    // Set first: the list registers through register(), which comes back here.
    this.registered = true;
    this.registerAll?.();
  }

  register(name: string, entry: T): void {
    this.ensureRegistered();
    if (this.byName.has(name)) throw new Error(`register ${this.kind}: a ${this.kind} named '${name}' is already registered`);
    this.check(name, entry);
    this.byName.set(name, entry);
  }

  /** What a kind of entry must satisfy to be registered; throws naming the entry. */
  protected check(_name: string, _entry: T): void {}

  names(): string[] {
    this.ensureRegistered();
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    this.ensureRegistered();
    return this.byName.has(name);
  }

  get(name: string): T {
    this.ensureRegistered();
    const entry = this.byName.get(name);
    if (entry === undefined) throw new Error(`${this.kind}: unknown ${this.kind} '${name}'; expected one of ${this.names().join(', ') || '(none registered)'}`);
    return entry;
  }
}

/** Option values are flat JSON (lists of numbers allowed). */
export type OptionValue = number | string | boolean | readonly number[];
export type Options = Record<string, OptionValue>;

export interface Definition<O extends Options = Options> {
  /** every option accepted, with its default */
  defaults: Readonly<O>;
  /** where each default comes from (paper, reference code, BackdoorBench, or our choice); one entry per option */
  provenance: Readonly<Record<keyof O & string, string>>;
  /** per training profile name, the options that differ from the defaults (a smaller schedule on a CPU), and why */
  schedules?: Partial<Record<string, { options: Partial<O>; provenance: string }>>;
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
export class DefinitionRegistry<D extends Definition<any>> extends Registry<D> {
  protected override check(name: string, definition: D): void {
    for (const key of Object.keys(definition.defaults)) {
      if (!(key in definition.provenance)) throw new Error(`register ${this.kind} '${name}': option '${key}' has no provenance`);
    }
  }

  /** Defaults, then the profile's schedule, then `given`; every name and type checked, then the definition's own validation. */
  resolve(name: string, given: Readonly<Record<string, unknown>> = {}, profile?: string): D['defaults'] {
    const def = this.get(name);
    for (const [key, value] of Object.entries(given)) {
      if (!(key in def.defaults)) {
        const valid = Object.keys(def.defaults);
        throw new Error(`${this.kind} '${name}': unknown option '${key}'; ${valid.length > 0 ? `valid options: ${valid.join(', ')}` : 'it takes no options'}`);
      }
      if (!sameType(value, def.defaults[key])) throw new Error(`${name}.${key}: expected ${describeType(def.defaults[key])}, got ${JSON.stringify(value)}`);
    }
    const fromProfile = profile === undefined ? {} : (def.schedules?.[profile]?.options ?? {});
    const options = { ...def.defaults, ...fromProfile, ...given };
    def.validate?.(options);
    return options;
  }

  /** Where each resolved option's value comes from: the caller ('given'), the profile, or the definition's provenance. */
  provenance(name: string, given: Readonly<Record<string, unknown>> = {}, profile?: string): Record<string, string> {
    const def = this.get(name);
    const p = profile === undefined ? undefined : def.schedules?.[profile];
    return Object.fromEntries(
      Object.keys(def.defaults).map((key) => [
        key,
        key in given ? 'given' : p && key in p.options ? `profile ${profile}: ${p.provenance}` : def.provenance[key],
      ]),
    );
  }
}
