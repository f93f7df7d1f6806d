import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zmq from 'zeromq';

/**
 * A Jupyter kernel client (messaging protocol 5.3 over ZeroMQ), the part of nbclient that running
 * notebooks needs: start a kernel from its spec, execute code, collect what it publishes into
 * nbformat outputs, interrupt, shut down. Written for tslab, whose departures from the protocol
 * are handled here: it never sends `error` (a failure is text on the cell's stderr) nor
 * `execute_result` (a last expression is printed to stdout), and the execution count comes only
 * with `execute_reply`.
 */

/** What a kernel spec (kernel.json) holds, with `{connection_file}` in argv. */
export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  env?: Record<string, string>;
}

/** The tslab kernel of this checkout, which sees `pbe-lab` (paper-repro/tslab-kernel.js). */
export function tslabKernelSpec(env: Record<string, string> = {}): KernelSpec {
  return {
    argv: [process.execPath, path.join(__dirname, 'tslab-kernel.js'), 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (pbe-lab)',
    language: 'typescript',
    env,
  };
}

/** One cell output as nbformat 4 stores it. */
export type Output =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: 'execute_result'; execution_count: number | null; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

type RichOutput = Extract<Output, { data: unknown }>;

export interface Execution {
  /** the reply's status; `timeout` when the kernel was interrupted after the time limit, `dead` when it exited */
  status: 'ok' | 'error' | 'abort' | 'timeout' | 'dead';
  executionCount: number | null;
  outputs: Output[];
}

interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

interface Message {
  header: Header;
  parent_header: Partial<Header>;
  content: Record<string, unknown>;
}

const DELIM = '<IDS|MSG>';
/** with a margin over tslab's 200 ms */
const TSLAB_ABORT_MS = 300;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const argvText = (child: ChildProcess) => child.spawnargs.join(' ');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export interface StartOptions {
  cwd: string;
  /** environment of the kernel process; the spec's env is added to it */
  env?: NodeJS.ProcessEnv;
  /** seconds to wait for the kernel to answer; default 120 */
  startupTimeoutSec?: number;
}

/** Output sent by the kernel while the cell of `msgId` runs, and how it ends. */
interface Pending {
  msgId: string;
  outputs: Output[];
  reply: Record<string, unknown> | null;
  idle: boolean;
  clearOnNext: boolean;
  settle: () => void;
}

export class KernelClient {
  private readonly session = randomUUID();
  private readonly shell = new zmq.Dealer({ linger: 0 });
  private readonly control = new zmq.Dealer({ linger: 0 });
  private readonly iopub = new zmq.Subscriber({ linger: 0 });
  private pending: Pending | null = null;
  /** every display output per display_id, across cells, for update_display_data */
  private readonly displays = new Map<string, RichOutput[]>();
  private readonly replies = new Map<string, (content: Record<string, unknown>) => void>();
  private readonly idles = new Map<string, () => void>();
  private readonly exited: Promise<void>;
  private exitCode: number | null | undefined = undefined;
  /** when the last execution failed: tslab aborts whatever request arrives in the 200 ms after */
  private failedAt = 0;
  /** the kernel process's own stdout/stderr (start-up errors, crashes), its last few KiB */
  private processOutput = '';
  languageInfo: Record<string, unknown> | null = null;

  private constructor(
    private readonly child: ChildProcess,
    private readonly key: string,
    private readonly connectionFile: string,
  ) {
    const keep = (chunk: Buffer) => void (this.processOutput = (this.processOutput + chunk.toString('utf8')).slice(-8000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null) => {
        this.exitCode ??= code;
        this.pending?.settle();
        resolve();
      };
      child.on('exit', (code, signal) => ended(code ?? (signal ? -1 : null)));
      // A command that cannot start (not found, not executable) gives 'error' and no 'exit'.
      child.on('error', (e) => {
        keep(Buffer.from(`${argvText(child)}: ${e.message}\n`));
        ended(-1);
      });
    });
  }

  /** Starts the kernel with fresh ports and key, and waits until it answers on shell and publishes on iopub. */
  static async start(spec: KernelSpec, o: StartOptions): Promise<KernelClient> {
    const ports = await Promise.all([0, 1, 2, 3, 4].map(freePort));
    const key = randomBytes(32).toString('hex');
    const connection = {
      transport: 'tcp',
      ip: '127.0.0.1',
      shell_port: ports[0],
      iopub_port: ports[1],
      stdin_port: ports[2],
      control_port: ports[3],
      hb_port: ports[4],
      key,
      signature_scheme: 'hmac-sha256',
      kernel_name: '',
    };
    const connectionFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pbe-kernel-')), 'connection.json');
    fs.writeFileSync(connectionFile, JSON.stringify(connection), { mode: 0o600 });
    const argv = spec.argv.map((a) => a.replace('{connection_file}', connectionFile));
    const child = spawn(argv[0], argv.slice(1), { cwd: o.cwd, env: { ...(o.env ?? process.env), ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const client = new KernelClient(child, key, connectionFile);
    const address = (port: number) => `tcp://127.0.0.1:${port}`;
    client.shell.connect(address(connection.shell_port));
    client.control.connect(address(connection.control_port));
    client.iopub.connect(address(connection.iopub_port));
    client.iopub.subscribe();
    void client.listen(client.shell);
    void client.listen(client.control);
    void client.listen(client.iopub);
    try {
      await client.ready((o.startupTimeoutSec ?? 120) * 1000);
    } catch (e) {
      await client.shutdown();
      throw e;
    }
    return client;
  }

  /**
   * A subscriber misses what is published before its subscription reaches the kernel, so the
   * kernel is ready once a kernel_info_request has its reply and its `idle` on iopub; until
   * then the request is sent again.
   */
  private async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) throw new Error(`the kernel exited (code ${this.exitCode}) before it was ready:\n${this.processOutput.trim()}`);
      const id = this.send(this.shell, 'kernel_info_request', {});
      const replied = new Promise<Record<string, unknown>>((resolve) => this.replies.set(id, resolve));
      const idle = new Promise<void>((resolve) => this.idles.set(id, resolve));
      const answer = await Promise.race([Promise.all([replied, idle]), sleep(1000).then(() => null), this.exited.then(() => null)]);
      this.replies.delete(id);
      this.idles.delete(id);
      if (answer) {
        this.languageInfo = (answer[0].language_info as Record<string, unknown> | undefined) ?? null;
        return;
      }
    }
    throw new Error(`the kernel did not answer within ${Math.round(timeoutMs / 1000)} s:\n${this.processOutput.trim()}`);
  }

  private sign(frames: string[]): string {
    const h = createHmac('sha256', this.key);
    for (const f of frames) h.update(f);
    return h.digest('hex');
  }

  private send(socket: zmq.Dealer, msgType: string, content: object): string {
    const header: Header = {
      msg_id: randomUUID(),
      msg_type: msgType,
      session: this.session,
      username: 'pbe-lab',
      date: new Date().toISOString(),
      version: '5.3',
    };
    const body = [JSON.stringify(header), '{}', '{}', JSON.stringify(content)];
    void socket.send([DELIM, this.sign(body), ...body]).catch(() => undefined);
    return header.msg_id;
  }

  private async listen(socket: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = this.parse(frames);
        if (msg) this.handle(msg);
      }
    } catch {
      // the socket was closed by shutdown()
    }
  }

  /** A message from its frames (routing prefix, delimiter, signature, header, parent, metadata, content), or null when unsigned or malformed. */
  private parse(frames: Buffer[]): Message | null {
    const at = frames.findIndex((f) => f.toString() === DELIM);
    if (at < 0 || frames.length < at + 6) return null;
    const body = frames.slice(at + 2, at + 6).map((f) => f.toString('utf8'));
    if (frames[at + 1].toString() !== this.sign(body)) return null;
    return { header: JSON.parse(body[0]), parent_header: JSON.parse(body[1]), content: JSON.parse(body[3]) };
  }

  private handle(msg: Message): void {
    const parent = msg.parent_header.msg_id ?? '';
    const type = msg.header.msg_type;
    if (type.endsWith('_reply')) {
      this.replies.get(parent)?.(msg.content);
      return;
    }
    if (type === 'status' && msg.content.execution_state === 'idle') this.idles.get(parent)?.();
    if (type === 'update_display_data') {
      // It may update an output of an earlier cell.
      this.updateDisplay(msg.content);
      return;
    }
    const p = this.pending;
    if (!p || parent !== p.msgId) return;
    if (type === 'status' && msg.content.execution_state === 'idle') {
      p.idle = true;
      p.settle();
    } else if (type === 'clear_output') {
      if (msg.content.wait) p.clearOnNext = true;
      else p.outputs.length = 0;
    } else if (type === 'stream' || type === 'display_data' || type === 'execute_result' || type === 'error') {
      if (p.clearOnNext) {
        p.outputs.length = 0;
        p.clearOnNext = false;
      }
      this.addOutput(p.outputs, type, msg.content);
    }
  }

  private addOutput(outputs: Output[], type: string, c: Record<string, unknown>): void {
    if (type === 'stream') {
      const name = c.name as 'stdout' | 'stderr';
      const last = outputs[outputs.length - 1];
      // Consecutive writes to one stream are one output, as Jupyter shows them.
      if (last?.output_type === 'stream' && last.name === name) last.text += String(c.text);
      else outputs.push({ output_type: 'stream', name, text: String(c.text) });
      return;
    }
    if (type === 'error') {
      outputs.push({ output_type: 'error', ename: String(c.ename), evalue: String(c.evalue), traceback: (c.traceback as string[]) ?? [] });
      return;
    }
    const data = (c.data ?? {}) as Record<string, unknown>;
    const metadata = (c.metadata ?? {}) as Record<string, unknown>;
    // `transient` (the display_id) is for the live session, not part of the saved output.
    const out: RichOutput =
      type === 'execute_result'
        ? { output_type: 'execute_result', execution_count: (c.execution_count as number) ?? null, data, metadata }
        : { output_type: 'display_data', data, metadata };
    outputs.push(out);
    const id = (c.transient as { display_id?: string } | undefined)?.display_id;
    if (id) this.displays.set(id, [...(this.displays.get(id) ?? []), out]);
  }

  private updateDisplay(c: Record<string, unknown>): void {
    const id = (c.transient as { display_id?: string } | undefined)?.display_id;
    for (const out of (id && this.displays.get(id)) || []) {
      out.data = (c.data ?? {}) as Record<string, unknown>;
      out.metadata = (c.metadata ?? {}) as Record<string, unknown>;
    }
  }

  /**
   * Executes code and waits for its reply and its `idle` (the last output comes before it). Past
   * `timeoutSec` the kernel is interrupted (SIGINT) and given a few seconds to reply.
   */
  async execute(code: string, timeoutSec: number | null = null): Promise<Execution> {
    if (this.exitCode !== undefined) return { status: 'dead', executionCount: null, outputs: [] };
    await sleep(this.failedAt + TSLAB_ABORT_MS - Date.now());
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const msgId = this.send(this.shell, 'execute_request', {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    });
    const p: Pending = {
      msgId,
      outputs: [],
      reply: null,
      idle: false,
      clearOnNext: false,
      settle: () => ((p.reply && p.idle) || this.exitCode !== undefined ? settle() : undefined),
    };
    this.pending = p;
    this.replies.set(msgId, (content) => {
      p.reply = content;
      p.settle();
    });
    let timedOut = false;
    try {
      if (timeoutSec === null) await settled;
      else if ((await Promise.race([settled.then(() => true), sleep(timeoutSec * 1000).then(() => false)])) === false) {
        timedOut = true;
        this.child.kill('SIGINT');
        await Promise.race([settled, sleep(10_000)]);
      }
    } finally {
      this.pending = null;
      this.replies.delete(msgId);
    }
    const executionCount = (p.reply?.execution_count as number | undefined) ?? null;
    if (timedOut || p.reply?.status !== 'ok') this.failedAt = Date.now();
    if (timedOut) return { status: 'timeout', executionCount, outputs: p.outputs };
    if (!p.reply) return { status: 'dead', executionCount, outputs: p.outputs };
    return { status: p.reply.status as Execution['status'], executionCount, outputs: p.outputs };
  }

  /** What the kernel process printed itself (not to a cell): its start-up and crash messages. */
  get log(): string {
    return this.processOutput;
  }

  /**
   * A shutdown request, then SIGTERM, then SIGKILL: tslab stays alive while a notebook's handles
   * (timers, worker pools) are open, and its sockets are closed by then.
   */
  async shutdown(): Promise<void> {
    const steps: (() => void)[] = [
      () => this.send(this.control, 'shutdown_request', { restart: false }),
      () => this.child.kill('SIGTERM'),
      () => this.child.kill('SIGKILL'),
    ];
    for (const step of steps) {
      if (this.exitCode !== undefined) break;
      step();
      await Promise.race([this.exited, sleep(3000)]);
    }
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    fs.rmSync(path.dirname(this.connectionFile), { recursive: true, force: true });
  }
}
