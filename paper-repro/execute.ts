import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from 'pbe-lab';
import { type Execution, KernelClient, type KernelSpec } from './kernel';
import { type Cell, cellSource, type Notebook, nbformatErrors, readNotebook } from './nbformat';

/**
 * Executes a notebook the way papermill does with nbclient: the parameters injected in a new cell
 * tagged `injected-parameters` right after the cell tagged `parameters`, the code cells run one at a
 * time in a fresh kernel, and the executed copy written as valid nbformat 4.5, also when a cell fails.
 */

export interface ExecuteOptions {
  input: string;
  output: string;
  kernel: KernelSpec;
  /** the kernel's working directory */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** the source of the injected cell */
  parameters: string;
  /** seconds per cell; null = none */
  timeoutSec?: number | null;
  /** called before each code cell runs (1-based) */
  onCell?: (cell: number, cells: number) => void;
}

export interface ExecutedNotebook {
  ok: boolean;
  seconds: number;
  /** the failing cell and what it printed on stderr (tslab's error message) */
  failure: { cell: number; cells: number; status: Execution['status']; message: string } | null;
}

const newCellId = () => randomBytes(4).toString('hex');

/** The notebook with the parameters cell after the one tagged `parameters` (replacing an earlier injection), every cell with an id. */
export function injectParameters(nb: Notebook, parameters: string, source: string): Notebook {
  const cells = nb.cells.filter((c) => !c.metadata.tags?.includes('injected-parameters'));
  const at = cells.findIndex((c) => c.metadata.tags?.includes('parameters'));
  if (at < 0) throw new Error(`${source}: no cell is tagged 'parameters'; tag the cell holding the notebook's parameters`);
  const injected: Cell = {
    id: newCellId(),
    cell_type: 'code',
    metadata: { tags: ['injected-parameters'] },
    source: parameters,
    outputs: [],
    execution_count: null,
  };
  cells.splice(at + 1, 0, injected);
  // nbformat 4.5 asks every cell for an id; a notebook written before 4.5 gets them here.
  const seen = new Set<string>();
  for (const c of cells) {
    if (!c.id || seen.has(c.id)) c.id = newCellId();
    seen.add(c.id);
    if (c.cell_type === 'code') {
      c.outputs = [];
      c.execution_count = null;
    }
  }
  return { ...nb, cells, nbformat_minor: Math.max(5, nb.nbformat_minor) };
}

function stderrOf(execution: Execution): string {
  return execution.outputs.map((o) => (o.output_type === 'stream' && o.name === 'stderr' ? o.text : '')).join('');
}

/** Writes the executed copy atomically, refusing one that Jupyter would open behind "Notebook validation failed". */
function writeNotebook(file: string, nb: Notebook): void {
  const errors = nbformatErrors(nb);
  if (errors.length) throw new Error(`${file}: the executed copy is not valid nbformat 4.5, not written:\n  ${errors.slice(0, 10).join('\n  ')}`);
  writeFileAtomic(file, `${JSON.stringify(nb, null, 1)}\n`);
}

export async function executeNotebook(o: ExecuteOptions): Promise<ExecutedNotebook> {
  const nb = injectParameters(readNotebook(o.input), o.parameters, o.input);
  const code = nb.cells.filter((c) => c.cell_type === 'code');
  const started = Date.now();
  let failure: ExecutedNotebook['failure'] = null;
  let kernel: KernelClient | null = null;
  try {
    kernel = await KernelClient.start(o.kernel, { cwd: o.cwd, env: o.env });
    if (kernel.languageInfo) nb.metadata.language_info = kernel.languageInfo;
    for (const [k, cell] of code.entries()) {
      o.onCell?.(k + 1, code.length);
      const t0 = Date.now();
      const r = await kernel.execute(cellSource(cell), o.timeoutSec ?? null);
      cell.outputs = r.outputs;
      cell.execution_count = r.executionCount;
      cell.metadata.pbe = { seconds: (Date.now() - t0) / 1000 };
      if (r.status !== 'ok') {
        const said = stderrOf(r).trim();
        const log = kernel.log.trim().slice(-2000);
        // tslab prints an error it did not expect ("unexpected error: …") on its own stderr, not the cell's.
        const why =
          r.status === 'timeout'
            ? `timed out after ${o.timeoutSec} s and was interrupted`
            : r.status === 'dead'
              ? `the kernel died (${log || 'no message'})`
              : `${r.status}: the cell printed nothing on stderr; the kernel's own output ${log ? `ends:\n${log}` : 'is empty'}`;
        failure = { cell: k + 1, cells: code.length, status: r.status, message: said ? `${said}${r.status === 'error' ? '' : `\n(${why})`}` : why };
        break;
      }
    }
  } catch (e) {
    failure = { cell: 0, cells: code.length, status: 'dead', message: (e as Error).message };
  } finally {
    await kernel?.shutdown();
    const seconds = (Date.now() - started) / 1000;
    nb.metadata.pbe_repro = { seconds, ok: failure === null };
    writeNotebook(o.output, nb);
  }
  return { ok: failure === null, seconds: (Date.now() - started) / 1000, failure };
}
