/** What a notebook output is, and how one reaches the notebook from a running tslab kernel. */

/** One rich output: MIME type → content, as Jupyter's display_data carries it. */
export type MimeBundle = Record<string, unknown>;

/** tslab's writer of display_data (update = false) and update_display_data (update = true) messages. */
export type DisplayWriter = (msg: { data: MimeBundle; metadata: object; transient: { display_id?: string } }, update: boolean) => void;

/**
 * tslab's public `display` sends one MIME type per output; a figure needs several (Vega-Lite for
 * JupyterLab, SVG for viewers without Vega, text for terminals) in one output, which only tslab's
 * internal writer can send. It is the writer of the cell running now; null outside a tslab kernel
 * (a script, a test, a worker process).
 */
export function kernelDisplay(): DisplayWriter | null {
  try {
    return (require('tslab/dist/jupyter') as { lastWriteDisplayData: DisplayWriter | null }).lastWriteDisplayData;
  } catch {
    return null;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}
