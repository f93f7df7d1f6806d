import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alive, claimRun } from './io/run-lock';

/** The cache folder: `PBE_CACHE_DIR`, else `data-cache/` at the project root. */
export function cacheRoot(): string {
  const env = process.env.PBE_CACHE_DIR;
  if (env && env.trim() !== '') return path.resolve(env);
  return path.resolve(__dirname, '..', 'data-cache');
}

/** JSON with object keys sorted, so equal configurations hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]]),
      );
    }
    return v;
  });
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return hashFile(file, 'sha256');
}

/** A file's digest, read in 4 MiB chunks so archives of any size fit in memory. */
export function hashFile(file: string, algorithm: 'sha256' | 'md5'): string {
  const hash = createHash(algorithm);
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** A short, stable key for a configuration. */
export function configKey(config: unknown): string {
  return sha256(canonicalJson(config)).slice(0, 20);
}

const MANIFEST = 'manifest.json';

export interface ManifestFile {
  sha256: string;
  bytes: number;
}

export interface Manifest {
  kind: string;
  key: string;
  config: unknown;
  meta: Record<string, unknown>;
  createdAt: string;
  files: Record<string, ManifestFile>;
}

export interface CacheEntry {
  dir: string;
  manifest: Manifest;
  file(name: string): string;
  read(name: string): Buffer;
}

export interface PutOptions {
  meta?: Record<string, unknown>;
  fill?: (stagingDir: string) => void | Promise<void>;
  keepExisting?: boolean;
}

/** Files to store, by name: their contents. */
export type EntryContents = Record<string, Uint8Array | string>;

function checkName(name: string): void {
  if (name === MANIFEST || name.includes('/') || name.includes('\\') || name.startsWith('.') || name === '') {
    throw new Error(`cache: invalid entry file name '${name}'`);
  }
}

function removeQuietly(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

/**
 * Content-addressed, checksummed artifacts: `<root>/<kind>/<key>/` holds the files and a
 * manifest with each file's sha256. An entry appears by renaming a complete staging folder,
 * so a reader never sees half of one; a checksum mismatch on read discards the entry.
 */
export class Cache {
  readonly root: string;

  constructor(root: string = cacheRoot()) {
    this.root = root;
  }

  entryDir(kind: string, config: unknown): string {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(kind)) throw new Error(`cache: invalid kind '${kind}'`);
    return path.join(this.root, kind, configKey(config));
  }

  /**
   * The verified entry, or null when it is absent. A corrupt or partial entry is moved aside
   * and null returned, so the caller recomputes it.
   */
  get(kind: string, config: unknown): CacheEntry | null {
    const dir = this.entryDir(kind, config);
    if (!fs.existsSync(dir)) return null;
    const problem = this.verify(dir);
    if (problem) {
      process.stderr.write(`cache: discarding ${dir}: ${problem}\n`);
      this.discard(dir);
      return null;
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    return makeEntry(dir, manifest);
  }

  /** Why an entry folder cannot be trusted, or null when every file matches its checksum. */
  verify(dir: string): string | null {
    const manifestPath = path.join(dir, MANIFEST);
    if (!fs.existsSync(manifestPath)) return 'no manifest.json (partial entry)';
    let manifest: Manifest;
    try {
      manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest;
    } catch (e) {
      return `manifest.json is not valid JSON (${(e as Error).message})`;
    }
    if (!manifest || typeof manifest.files !== 'object') return 'manifest.json has no files table';
    // An entry copied or renamed under another key would be read for a configuration it was not made for.
    const key = path.basename(dir);
    if (manifest.key !== key || configKey(manifest.config) !== key) {
      return `manifest.json records a configuration whose key is ${configKey(manifest.config)}, not the folder's ${key}`;
    }
    for (const [name, expected] of Object.entries(manifest.files)) {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) return `${name} is missing`;
      const bytes = fs.statSync(file).size;
      if (bytes !== expected.bytes) return `${name} has ${bytes} bytes, manifest says ${expected.bytes}`;
      const actual = sha256File(file);
      if (actual !== expected.sha256) return `${name} checksum ${actual.slice(0, 12)}… does not match ${expected.sha256.slice(0, 12)}…`;
    }
    return null;
  }

  /**
   * Store an entry atomically, replacing any previous one for the same configuration.
   * `contents` maps file names to data; `fill`, when given, may also write files into the
   * staging folder (for large outputs streamed to disk), which are then checksummed too.
   * With `keepExisting`, a valid entry that appeared meanwhile (another worker computing the same
   * thing) wins and this one is dropped, so a reader of that entry is never pulled from under.
   */
  async put(kind: string, config: unknown, contents: EntryContents, opts: PutOptions = {}): Promise<CacheEntry> {
    const dir = this.entryDir(kind, config);
    const parent = path.dirname(dir);
    fs.mkdirSync(parent, { recursive: true });
    removeOrphans(parent);
    const staging = path.join(parent, `.staging-${path.basename(dir)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(staging);
    try {
      for (const [name, data] of Object.entries(contents)) {
        checkName(name);
        fs.writeFileSync(path.join(staging, name), data);
      }
      if (opts.fill) await opts.fill(staging);
      const files: Record<string, ManifestFile> = {};
      for (const name of fs.readdirSync(staging).sort()) {
        checkName(name);
        const file = path.join(staging, name);
        files[name] = { sha256: sha256File(file), bytes: fs.statSync(file).size };
      }
      const manifest: Manifest = {
        kind,
        key: path.basename(dir),
        config,
        meta: opts.meta ?? {},
        createdAt: new Date().toISOString(),
        files,
      };
      fs.writeFileSync(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2));
      if (opts.keepExisting) {
        const existing = this.get(kind, config);
        if (existing) {
          removeQuietly(staging);
          return existing;
        }
      } else if (fs.existsSync(dir)) {
        this.discard(dir);
      }
      try {
        fs.renameSync(staging, dir);
      } catch (e) {
        const raced = opts.keepExisting && ['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '');
        const winner = raced ? this.get(kind, config) : null;
        if (!winner) throw e;
        removeQuietly(staging);
        return winner;
      }
      return makeEntry(dir, manifest);
    } catch (e) {
      removeQuietly(staging);
      throw e;
    }
  }

  /**
   * Runs `work` while no other process or thread works on the same entry: a second identical
   * command waits for the first (saying so) and `work` then finds its result with `get`.
   */
  async exclusive<T>(kind: string, config: unknown, what: string, work: () => Promise<T>): Promise<T> {
    const lock = await claimRun(path.join(this.root, 'locks', `${kind}-${path.basename(this.entryDir(kind, config))}`), { what });
    try {
      return await work();
    } finally {
      lock.release();
    }
  }

  /** The verified entry, or build it, store it and return it. */
  async getOrCreate(
    kind: string,
    config: unknown,
    build: (stagingDir: string) => Promise<EntryContents | void> | EntryContents | void,
    meta: Record<string, unknown> = {},
  ): Promise<CacheEntry> {
    const existing = this.get(kind, config);
    if (existing) return existing;
    return this.put(
      kind,
      config,
      {},
      {
        meta,
        keepExisting: true,
        fill: async (staging) => {
          // Typed so that TypeScript 5.0 (tslab's) also drops the void.
          const built = (await build(staging)) as EntryContents | undefined;
          for (const [name, data] of Object.entries(built ?? {})) {
            checkName(name);
            fs.writeFileSync(path.join(staging, name), data);
          }
        },
      },
    );
  }

  /**
   * Every finished entry of a kind, each verified; an entry that fails its checksums is left where
   * it is (a reader may be about to discard and recompute it) and named in `unverified`.
   */
  list(kind: string): { entries: CacheEntry[]; unverified: { dir: string; problem: string }[] } {
    const parent = path.join(this.root, kind);
    const entries: CacheEntry[] = [];
    const unverified: { dir: string; problem: string }[] = [];
    if (!fs.existsSync(parent)) return { entries, unverified };
    for (const name of fs.readdirSync(parent).sort()) {
      const dir = path.join(parent, name);
      if (name.startsWith('.') || !fs.statSync(dir).isDirectory()) continue;
      const problem = this.verify(dir);
      if (problem) unverified.push({ dir, problem });
      else entries.push(makeEntry(dir, JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest));
    }
    return { entries, unverified };
  }

  remove(kind: string, config: unknown): void {
    removeQuietly(this.entryDir(kind, config));
  }

  /** Move a bad entry out of the way first, so a crash mid-delete never leaves it looking valid. */
  private discard(dir: string): void {
    const trash = path.join(path.dirname(dir), `.trash-${path.basename(dir)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.renameSync(dir, trash);
    removeQuietly(trash);
  }
}

/**
 * Removes the staging and trash folders under `parent` left by processes that are gone (killed
 * while writing or discarding an entry; a CIFAR-10 extraction leaves 50 MB). Their names carry
 * the writer's pid; folders of live processes, this one's other threads included, stay.
 */
export function removeOrphans(parent: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(parent)) {
    const m = /^\.(?:staging|trash)-.*-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    removeQuietly(path.join(parent, name));
    removed.push(name);
  }
  return removed;
}

function makeEntry(dir: string, manifest: Manifest): CacheEntry {
  return {
    dir,
    manifest,
    file: (name) => path.join(dir, name),
    read: (name) => fs.readFileSync(path.join(dir, name)),
  };
}

/** Write a file atomically: a temporary sibling, fsync, then rename. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}
