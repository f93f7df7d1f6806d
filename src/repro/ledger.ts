import { Cache } from '../cache';

/**
 * The compute behind a suite's results, read back from the cache it ran in: a suite that spans
 * several sittings (the `cpu` one does) trains and defends in whichever sitting reaches the work,
 * so the final run's per-notebook seconds show only what was left; every model and defense run
 * records its own seconds where it is cached, and those add up across sittings and crashes.
 */
export interface ComputeLedger {
  /** the cache read */
  cache: string;
  /** the entries counted: those made for this training profile on this dataset */
  scope: { profile: string; dataset: string };
  rows: LedgerRow[];
  /** the rows' seconds together */
  seconds: number;
  /** when the first and the last counted entry was made (null when none) */
  first: string | null;
  last: string | null;
  /** entries left out because they failed their checksums (a reader recomputes them) */
  unverified: string[];
}

export interface LedgerRow {
  part: LedgerPart;
  /** the attack (training) or the defense, as its registry names it */
  what: string;
  entries: number;
  seconds: number;
}

/**
 * Training: each infected or benign model's epochs (record.trainSeconds, summed over every
 * sitting's epochs). Defenses: each run's own seconds, from a ready infected model to the purified
 * one, over every attempt (the report's `seconds`, kept across a stop by `ResumableClock`; a run's
 * cached sub-steps, such as PBE's iterations or Neural Cleanse's triggers, are inside it and not
 * counted again). Observations: their PGD only (the
 * report's `pgdSeconds`), the one part of an observation that costs more than a few seconds.
 */
export const LEDGER_PARTS = ['training', 'defenses', 'observations'] as const;
export type LedgerPart = (typeof LEDGER_PARTS)[number];

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});

function inScope(profile: unknown, scope: ComputeLedger['scope']): boolean {
  const p = obj(profile);
  return p.profile === scope.profile && p.dataset === scope.dataset;
}

/** One entry's row and seconds, or null when the entry is not compute the ledger counts. */
function classify(kind: string, config: Obj, read: (file: string) => Obj, scope: ComputeLedger['scope']): Omit<LedgerRow, 'entries'> | null {
  if (kind === 'models' && config.kind === 'trained-model') {
    const spec = obj(config.spec);
    if (!inScope(spec.profile, scope)) return null;
    const attack = obj(spec.attack);
    const what = spec.purpose === 'benign' ? 'benign' : `${String(attack.name)}${obj(attack.rule).mode === 'all2all' ? ' (all-to-all)' : ''}`;
    return { part: 'training', what, seconds: Number(read('record.json').trainSeconds) };
  }
  if (kind === 'defenses' && config.kind === 'defend') {
    const cfg = obj(config.cfg);
    if (!inScope(cfg.profile, scope)) return null;
    return { part: 'defenses', what: `${String(cfg.defense)}${cfg.cleanData ? ' with clean data' : ''}`, seconds: Number(read('report.json').seconds) };
  }
  if (kind === 'observations' && config.kind === 'observe') {
    const cfg = obj(config.cfg);
    if (!inScope(cfg.profile, scope)) return null;
    return { part: 'observations', what: String(obj(cfg.attack).name), seconds: Number(obj(read('report.json').pgdSeconds).seconds) };
  }
  return null;
}

export function computeLedger(cache: Cache, scope: ComputeLedger['scope']): ComputeLedger {
  const rows = new Map<string, LedgerRow>();
  const unverified: string[] = [];
  const made: string[] = [];
  for (const kind of ['models', 'defenses', 'observations']) {
    const listed = cache.list(kind);
    unverified.push(...listed.unverified.map((u) => `${u.dir}: ${u.problem}`));
    for (const entry of listed.entries) {
      const row = classify(kind, obj(entry.manifest.config), (file) => obj(JSON.parse(entry.read(file).toString())), scope);
      if (!row) continue;
      if (!Number.isFinite(row.seconds) || row.seconds < 0)
        throw new Error(`${entry.dir}: records no time (expected seconds for its ${row.part}, found ${row.seconds})`);
      made.push(entry.manifest.createdAt);
      const id = `${row.part}\u0000${row.what}`;
      const sum = rows.get(id) ?? { ...row, entries: 0, seconds: 0 };
      sum.entries += 1;
      sum.seconds += row.seconds;
      rows.set(id, sum);
    }
  }
  const sorted = [...rows.values()].sort((a, b) => LEDGER_PARTS.indexOf(a.part) - LEDGER_PARTS.indexOf(b.part) || b.seconds - a.seconds);
  made.sort();
  return {
    cache: cache.root,
    scope,
    rows: sorted,
    seconds: sorted.reduce((s, r) => s + r.seconds, 0),
    first: made[0] ?? null,
    last: made.at(-1) ?? null,
    unverified,
  };
}
