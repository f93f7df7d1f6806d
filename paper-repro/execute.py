#!/usr/bin/python3
"""Executes one notebook in Jupyter (nbclient), the way papermill would, for paper-repro/run.ts.

- The profile is injected as a new cell tagged `injected-parameters` right after the cell tagged
  `parameters` (papermill's convention; papermill itself is not packaged in Debian).
- Cells run one at a time; a JSON line on stdout announces each, for the caller's progress and ETA.
- The executed copy is always written, also when a cell fails: nbconvert writes nothing on failure,
  and tslab sends no error output (the message is in the cell's stderr stream), so the failing
  cell's stderr is printed here.
"""
import argparse
import json
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def event(**kw):
    print(json.dumps(kw), flush=True)


def inject(nb, code, source):
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if not tagged:
        sys.exit(f"{source}: no cell is tagged 'parameters'; tag the cell holding the notebook's parameters")
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(tagged[0] + 1, cell)


def cell_stderr(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--kernel", required=True)
    p.add_argument("--cwd", required=True, help="the kernel's working directory")
    p.add_argument("--inject", required=True, help="file holding the injected parameters cell")
    p.add_argument("--timeout", type=int, default=0, help="seconds per cell; 0 = none")
    a = p.parse_args()
    nb = nbformat.read(a.input, as_version=4)
    with open(a.inject, encoding="utf-8") as f:
        inject(nb, f.read(), a.input)
    client = NotebookClient(nb, kernel_name=a.kernel, timeout=a.timeout or None, startup_timeout=120, resources={"metadata": {"path": a.cwd}})
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    failed = None
    started = time.time()
    try:
        with client.setup_kernel():
            for k, i in enumerate(code_cells):
                event(event="cell", cell=k + 1, cells=len(code_cells), elapsed=time.time() - started)
                t0 = time.time()
                try:
                    client.execute_cell(nb.cells[i], i)
                except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
                    failed = (k + 1, i, e)
                    break
                finally:
                    nb.cells[i].metadata["pbe"] = {"seconds": round(time.time() - t0, 3)}
    finally:
        nb.metadata["pbe_repro"] = {"seconds": round(time.time() - started, 3), "ok": failed is None}
        nbformat.write(nb, a.output)
    if failed is not None:
        k, i, e = failed
        err = cell_stderr(nb.cells[i]).strip() or str(e).strip()
        sys.stderr.write(f"{a.input}: code cell {k} of {len(code_cells)} failed ({type(e).__name__}):\n{err}\n")
        sys.stderr.write(f"executed copy (up to the failure): {a.output}\n")
        event(event="failed", cell=k, error=err[-4000:])
        sys.exit(1)
    event(event="done", seconds=time.time() - started)


if __name__ == "__main__":
    main()
