import Ajv from 'ajv-draft-04';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A notebook as nbformat 4 stores it; only what the suite reads and writes is typed. */
export interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

export interface Cell {
  id?: string;
  cell_type: 'code' | 'markdown' | 'raw';
  metadata: { tags?: string[] } & Record<string, unknown>;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
}

// Jupyter's own schema (draft-04), vendored with its licence: what Jupyter checks when it opens a notebook.
const validate = new Ajv({ allErrors: true, strict: false }).compile(
  JSON.parse(fs.readFileSync(path.join(__dirname, 'schema', 'nbformat.v4.5.schema.json'), 'utf8')),
);

/** Why the notebook is not valid nbformat 4.5 (JSON pointer: message), or [] when it is. */
export function nbformatErrors(nb: unknown): string[] {
  if (validate(nb)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
  );
}

export function cellSource(c: Cell): string {
  return Array.isArray(c.source) ? c.source.join('') : c.source;
}

/** Reads a notebook, or says which file is not one. */
export function readNotebook(file: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
  } catch (e) {
    throw new Error(`${file}: not a readable notebook (${(e as Error).message})`, { cause: e });
  }
  if (nb?.nbformat !== 4 || !Array.isArray(nb.cells))
    throw new Error(`${file}: not an nbformat 4 notebook (nbformat ${String(nb?.nbformat)}, cells ${Array.isArray(nb?.cells) ? 'present' : 'missing'})`);
  return nb;
}
