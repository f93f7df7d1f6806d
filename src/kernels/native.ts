import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

/**
 * oneDNN kernels for the wasm backend (the `native` backend).
 *
 * The addon (native/pbe_dnnl.cc, built at install when oneDNN's headers are found) computes
 * directly on tensors in the wasm heap: inputs are read at their memoryOffset, outputs are
 * allocated by the backend's makeOutput, nothing is copied. Memory growth detaches the heap's
 * ArrayBuffer, so it is read again after the last allocation of every call. Each kernel falls
 * back to the one it replaced for cases it does not cover (non-float32, NCHW, other fused
 * activations), so registering them changes speed, never what runs.
 */

export interface NativeAddon {
  convForward(heap: ArrayBuffer, p: Int32Array, x: number, w: number, bias: number, y: number, weightId: number, relu: number): void;
  convBackpropInput(heap: ArrayBuffer, p: Int32Array, dy: number, w: number, dx: number, weightId: number): void;
  convBackpropFilter(heap: ArrayBuffer, p: Int32Array, x: number, dy: number, dw: number): void;
  matMul(heap: ArrayBuffer, p: Int32Array, a: number, b: number, bias: number, c: number, relu: number): void;
  /** offsets of x, gamma, beta, then of the outputs y, mean, variance */
  batchNormForward(heap: ArrayBuffer, p: Int32Array, eps: number, ...offsets: number[]): void;
  /** offsets of x, mean, variance, gamma, dy, then of the outputs dx, dgamma, dbeta */
  batchNormBackward(heap: ArrayBuffer, p: Int32Array, eps: number, ...offsets: number[]): void;
  relu(heap: ArrayBuffer, count: number, x: number, y: number): void;
  binary(heap: ArrayBuffer, op: number, count: number, channels: number, a: number, b: number, out: number, swapped: number): void;
  reluGrad(heap: ArrayBuffer, count: number, dy: number, x: number, dx: number): void;
  maxPool(heap: ArrayBuffer, p: Int32Array, x: number, y: number): void;
  maxPoolGrad(heap: ArrayBuffer, p: Int32Array, dy: number, x: number, dx: number): void;
  setThreads(n: number): void;
  getThreads(): number;
  clearCaches(): void;
  convImpl(p: Int32Array): string;
  version(): string;
}

export const NATIVE_ADDON_PATH = path.resolve(__dirname, '../../native/build/Release/pbe_dnnl.node');

let addon: NativeAddon | null = null;

/** The compiled addon; throws with what to do when it was not built. */
export function loadNativeAddon(): NativeAddon {
  if (addon) return addon;
  // OpenMP reads its settings once, when the addon loads libgomp. Idle threads sleep instead of
  // spinning: on a machine shared with other work a spinning thread takes the core another
  // process (or our own other thread) needs. OMP_WAIT_POLICY=active restores spinning.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.OMP_WAIT_POLICY = 'passive';
  try {
    addon = require(NATIVE_ADDON_PATH) as NativeAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`the oneDNN addon is not built (${why}); install libdnnl-dev and run 'npm run build:native'`, { cause: e });
  }
  return addon;
}

/**
 * OpenMP threads for this thread's oneDNN calls: PBE_NATIVE_THREADS, else every core on the main
 * thread (a lone job) and one in a job-pool worker (the pool already runs one worker per core).
 */
export function defaultNativeThreads(): number {
  const env = process.env.PBE_NATIVE_THREADS;
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`PBE_NATIVE_THREADS: expected a positive integer, got '${env}'`);
    return n;
  }
  return isMainThread ? os.availableParallelism() : 1;
}

// ---- access to the wasm backend's memory ---------------------------------------------------------

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
}

function offset(backend: WasmBackendLike, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Stable ids for weight tensors: oneDNN's reordered copy of a filter is cached under its id. */
const weightIds = new WeakMap<object, number>();
let nextWeightId = 1;
function weightId(t: TensorInfo): number {
  let id = weightIds.get(t.dataId);
  if (id === undefined) {
    id = nextWeightId++;
    weightIds.set(t.dataId, id);
  }
  return id;
}

type Args = Parameters<KernelFunc>[0];
type Inputs = Record<string, TensorInfo | undefined>;

const replaced = new Map<string, KernelFunc>();

function previous(name: string, args: Args): TensorInfo | TensorInfo[] {
  const k = replaced.get(name);
  if (!k) throw new Error(`native ${name}: no wasm kernel to fall back to for this case`);
  return k(args);
}

function allFloat(...ts: (TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}

function convParams(info: backend_util.Conv2DInfo): Int32Array {
  const { padInfo: p } = info;
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  ]);
}

/** oneDNN accepts only paddings whose sum gives back tfjs's output size by floor division. */
function consistent(info: backend_util.Conv2DInfo): boolean {
  const { padInfo: p } = info;
  const ok = (inSize: number, k: number, d: number, s: number, lo: number, hi: number, out: number) =>
    lo >= 0 && hi >= 0 && Math.floor((inSize + lo + hi - ((k - 1) * d + 1)) / s) + 1 === out;
  return (
    ok(info.inHeight, info.filterHeight, info.dilationHeight, info.strideHeight, p.top, p.bottom, info.outHeight) &&
    ok(info.inWidth, info.filterWidth, info.dilationWidth, info.strideWidth, p.left, p.right, info.outWidth)
  );
}

type Shape4 = [number, number, number, number];

// ---- convolutions --------------------------------------------------------------------------------

function convolution(name: 'Conv2D' | 'FusedConv2D', args: Args): TensorInfo | TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, filter, bias, preluActivationWeights } = args.inputs as Inputs;
  const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = args.attrs as unknown as tf.FusedConv2DAttrs;
  const act = activation ?? 'linear';
  if (dataFormat !== 'NHWC' || !allFloat(x, filter, bias) || preluActivationWeights || (act !== 'linear' && act !== 'relu')) return previous(name, args);
  const info = backend_util.computeConv2DInfo(x!.shape as Shape4, filter!.shape as Shape4, strides, dilations, pad, dimRoundingMode);
  if (!consistent(info) || (bias && bias.shape.reduce((a, b) => a * b, 1) !== info.outChannels)) return previous(name, args);
  const out = backend.makeOutput(info.outShape, 'float32');
  addon!.convForward(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    convParams(info),
    offset(backend, x!),
    offset(backend, filter!),
    bias ? offset(backend, bias) : -1,
    offset(backend, out),
    weightId(filter!),
    act === 'relu' ? 1 : 0,
  );
  return out;
}

/** dx from (dy, filter), or dW from (x, dy). */
function convBackprop(name: 'Conv2DBackpropInput' | 'Conv2DBackpropFilter', args: Args): TensorInfo | TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const inputs = args.inputs as Inputs;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs & tf.Conv2DBackpropFilterAttrs;
  const toInput = name === 'Conv2DBackpropInput';
  const [first, second] = toInput ? [inputs.dy!, inputs.filter!] : [inputs.x!, inputs.dy!];
  if (attrs.dataFormat !== 'NHWC' || !allFloat(first, second)) return previous(name, args);
  const xShape = (toInput ? attrs.inputShape : first.shape) as Shape4;
  const wShape = (toInput ? second.shape : attrs.filterShape) as Shape4;
  const info = backend_util.computeConv2DInfo(xShape, wShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  if (!consistent(info)) return previous(name, args);
  const out = backend.makeOutput(toInput ? info.inShape : [...wShape], 'float32');
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const [o1, o2, o3] = [first, second, out].map((t) => offset(backend, t));
  if (toInput) addon!.convBackpropInput(heap, convParams(info), o1, o2, o3, weightId(second));
  else addon!.convBackpropFilter(heap, convParams(info), o1, o2, o3);
  return out;
}

// ---- matrix products -----------------------------------------------------------------------------

function matMul(name: 'BatchMatMul' | '_FusedMatMul', args: Args): TensorInfo | TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const { a, b, bias, preluActivationWeights } = args.inputs as Inputs;
  const { transposeA, transposeB, activation } = args.attrs as unknown as tf.BatchMatMulAttrs & { activation?: string };
  const act = activation ?? 'linear';
  if (!allFloat(a, b, bias) || preluActivationWeights || (act !== 'linear' && act !== 'relu')) return previous(name, args);
  if (a!.shape.length < 2 || b!.shape.length < 2) return previous(name, args);
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const outerA = a!.shape.slice(0, -2);
  const outerB = b!.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  // oneDNN broadcasts a whole batch of one; other broadcasts stay with the wasm kernel.
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return previous(name, args);
  const [ra, ca] = a!.shape.slice(-2);
  const [rb, cb] = b!.shape.slice(-2);
  const m = transposeA ? ca : ra;
  const k = transposeA ? ra : ca;
  const n = transposeB ? rb : cb;
  if ((transposeB ? cb : rb) !== k) throw new Error(`native ${name}: inner dimensions ${k} and ${transposeB ? cb : rb} differ`);
  if (bias && size(bias.shape) !== n) return previous(name, args);
  const outer = backend_util.assertAndGetBroadcastShape(outerA, outerB);
  if (size(outer) !== Math.max(batchA, batchB)) return previous(name, args);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  addon!.matMul(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    Int32Array.from([batchA, batchB, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0]),
    offset(backend, a!),
    offset(backend, b!),
    bias ? offset(backend, bias) : -1,
    offset(backend, out),
    act === 'relu' ? 1 : 0,
  );
  return out;
}

// ---- ReLU and max pooling -------------------------------------------------------------------------

function relu(args: Args): TensorInfo | TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x } = args.inputs as Inputs;
  if (!allFloat(x)) return previous('Relu', args);
  const out = backend.makeOutput([...x!.shape], 'float32');
  addon!.relu(backend.wasm.HEAPU8.buffer as ArrayBuffer, size(x!), offset(backend, x!), offset(backend, out));
  return out;
}

function size(t: TensorInfo): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

/** dy · step(x), as tfjs's Relu gradient computes it, in one pass. */
function reluGrad(args: Args): TensorInfo {
  const backend = args.backend as unknown as WasmBackendLike;
  const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
  const out = backend.makeOutput([...x.shape], 'float32');
  addon!.reluGrad(backend.wasm.HEAPU8.buffer as ArrayBuffer, size(x), offset(backend, dy), offset(backend, x), offset(backend, out));
  return out;
}

function poolParams(info: backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
}

function poolInfo(x: TensorInfo, attrs: tf.MaxPoolAttrs): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(x.shape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

function maxPool(args: Args): TensorInfo | TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x } = args.inputs as Inputs;
  if (!allFloat(x)) return previous('MaxPool', args);
  const info = poolInfo(x!, args.attrs as unknown as tf.MaxPoolAttrs);
  const out = backend.makeOutput(info.outShape, 'float32');
  addon!.maxPool(backend.wasm.HEAPU8.buffer as ArrayBuffer, poolParams(info), offset(backend, x!), offset(backend, out));
  return out;
}

function maxPoolGrad(args: Args): TensorInfo | TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const { dy, input } = args.inputs as Inputs;
  if (!allFloat(dy, input)) return previous('MaxPoolGrad', args);
  const info = poolInfo(input!, args.attrs as unknown as tf.MaxPoolGradAttrs);
  const out = backend.makeOutput([...input!.shape], 'float32');
  addon!.maxPoolGrad(backend.wasm.HEAPU8.buffer as ArrayBuffer, poolParams(info), offset(backend, dy!), offset(backend, input!), offset(backend, out));
  return out;
}

// ---- batch normalisation (training mode) ----------------------------------------------------------

export const NATIVE_BATCH_NORM = 'PbeNativeBatchNorm';
export const NATIVE_BATCH_NORM_GRAD = 'PbeNativeBatchNormGrad';
export const NATIVE_RELU_GRAD = 'PbeNativeReluGrad';

/**
 * forward: [x, gamma, beta] → [y, mean, biased variance], statistics over every axis but the last;
 * backward: [x, mean, variance, gamma, dy] → [dx, dgamma, dbeta].
 */
function batchNorm(direction: 'forward' | 'backward') {
  const names = direction === 'forward' ? ['x', 'gamma', 'beta'] : ['x', 'mean', 'variance', 'gamma', 'dy'];
  return (args: Args): TensorInfo[] => {
    const backend = args.backend as unknown as WasmBackendLike;
    const inputs = args.inputs as Record<string, TensorInfo>;
    const x = inputs.x;
    const c = x.shape[x.shape.length - 1];
    const outs = [backend.makeOutput([...x.shape], 'float32'), backend.makeOutput([c], 'float32'), backend.makeOutput([c], 'float32')];
    const call = direction === 'forward' ? addon!.batchNormForward : addon!.batchNormBackward;
    call(
      backend.wasm.HEAPU8.buffer as ArrayBuffer,
      Int32Array.from([size(x) / c, c]),
      (args.attrs as { epsilon: number }).epsilon,
      ...[...names.map((n) => inputs[n]), ...outs].map((t) => offset(backend, t)),
    );
    return outs;
  };
}

// ---- elementwise Add, Sub, Multiply ---------------------------------------------------------------

/**
 * The same-shape and per-channel cases (batch norm in eval mode, residual sums, bias adds): one
 * pass on oneDNN's threads. Other broadcasts and dtypes stay with wasm.
 */
function binary(name: 'Add' | 'Sub' | 'Multiply', op: number, args: Args): TensorInfo | TensorInfo[] {
  const backend = args.backend as unknown as WasmBackendLike;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (!allFloat(a, b) || a.shape.length === 0 || b.shape.length === 0) return previous(name, args);
  const out = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const n = out.reduce((p, q) => p * q, 1);
  const c = out[out.length - 1];
  const full = (t: TensorInfo) => size(t) === n;
  // a per-channel operand: C values along the last axis, every other axis of size 1
  const perChannel = (t: TensorInfo) => size(t) === c && t.shape[t.shape.length - 1] === c;
  let big: TensorInfo;
  let small: TensorInfo;
  if (full(a) && (full(b) || perChannel(b))) [big, small] = [a, b];
  else if (full(b) && perChannel(a)) [big, small] = [b, a];
  else return previous(name, args);
  if (n < 4096) return previous(name, args);
  const result = backend.makeOutput(out, 'float32');
  addon!.binary(
    backend.wasm.HEAPU8.buffer as ArrayBuffer,
    op,
    n,
    size(small),
    offset(backend, big),
    offset(backend, small),
    offset(backend, result),
    big === b ? 1 : 0,
  );
  return result;
}

// ---- zero-copy Identity and same-type Cast ------------------------------------------------------

/**
 * tfjs clones every tensor it saves for a backward pass through Identity (and casts the clone's
 * gradient to float32), and wasm copies the data each time: a tenth of a PGD step. tfjs data is
 * immutable, so the clone can share it, as Reshape already does.
 */
function share(args: Args): TensorInfo {
  const backend = args.backend as unknown as { incRef(dataId: object): void };
  const { x } = args.inputs as { x: TensorInfo };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function identity(args: Args): TensorInfo | TensorInfo[] {
  return (args.inputs as Inputs).x!.dtype === 'string' ? previous('Identity', args) : share(args);
}

function cast(args: Args): TensorInfo | TensorInfo[] {
  const { x } = args.inputs as Inputs;
  return x!.dtype !== 'string' && x!.dtype === (args.attrs as { dtype: string }).dtype ? share(args) : previous('Cast', args);
}

// ---- registration ---------------------------------------------------------------------------------

/** tfjs kernels the native backend replaces on wasm, in the order `pbe info` lists them. */
const OVERRIDES: Record<string, KernelFunc> = {
  Conv2D: ((a: Args) => convolution('Conv2D', a)) as KernelFunc,
  FusedConv2D: ((a: Args) => convolution('FusedConv2D', a)) as KernelFunc,
  Conv2DBackpropInput: ((a: Args) => convBackprop('Conv2DBackpropInput', a)) as KernelFunc,
  Conv2DBackpropFilter: ((a: Args) => convBackprop('Conv2DBackpropFilter', a)) as KernelFunc,
  BatchMatMul: ((a: Args) => matMul('BatchMatMul', a)) as KernelFunc,
  _FusedMatMul: ((a: Args) => matMul('_FusedMatMul', a)) as KernelFunc,
  Relu: relu as KernelFunc,
  MaxPool: maxPool as KernelFunc,
  MaxPoolGrad: maxPoolGrad as KernelFunc,
  Add: ((a: Args) => binary('Add', 0, a)) as KernelFunc,
  Sub: ((a: Args) => binary('Sub', 1, a)) as KernelFunc,
  Multiply: ((a: Args) => binary('Multiply', 2, a)) as KernelFunc,
  Identity: identity as KernelFunc,
  Cast: cast as KernelFunc,
};

/** Kernels of pbe-lab's own that exist only with the addon. */
const ADDITIONS: Record<string, KernelFunc> = {
  [NATIVE_BATCH_NORM]: batchNorm('forward') as unknown as KernelFunc,
  [NATIVE_BATCH_NORM_GRAD]: batchNorm('backward') as unknown as KernelFunc,
  [NATIVE_RELU_GRAD]: reluGrad as KernelFunc,
};

let active = false;

/** Whether the oneDNN kernels are installed on the wasm backend right now. */
export function nativeKernelsActive(): boolean {
  return active;
}

/** What `pbe info` prints: the kernels tfjs dispatches to oneDNN, plus training batch norm. */
export function nativeKernelNames(): string[] {
  return [...Object.keys(OVERRIDES).filter((k) => k !== 'Identity' && k !== 'Cast'), 'batch norm (training, forward and gradient)', 'Relu gradient'];
}

/**
 * Installs the oneDNN kernels on the wasm backend (after the wasm training kernels, which stay as
 * the fallback), with `threads` OpenMP threads for this thread. Idempotent.
 */
export function registerNativeKernels(threads = defaultNativeThreads()): NativeAddon {
  const lib = loadNativeAddon();
  lib.setThreads(threads);
  if (active) return lib;
  for (const [name, kernelFunc] of Object.entries(OVERRIDES)) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing) {
      replaced.set(name, existing.kernelFunc);
      tf.unregisterKernel(name, 'wasm');
    }
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
  }
  for (const [name, kernelFunc] of Object.entries(ADDITIONS)) {
    if (!tf.getKernel(name, 'wasm')) tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
  }
  registerReluGradient();
  active = true;
  return lib;
}

/** Puts back the kernels registerNativeKernels replaced (plain wasm again). */
export function unregisterNativeKernels(): void {
  if (!active) return;
  for (const name of Object.keys(OVERRIDES)) {
    tf.unregisterKernel(name, 'wasm');
    const k = replaced.get(name);
    if (k) tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: k });
  }
  replaced.clear();
  addon?.clearCaches();
  active = false;
}

let reluGradientRegistered = false;

/**
 * tfjs differentiates Relu as dy · cast(step(x)): three wasm passes over the activation. With the
 * addon active on wasm it is one native pass; on any other backend it is tfjs's formula.
 */
function registerReluGradient(): void {
  if (reluGradientRegistered) return;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      if (active && tf.getBackend() === 'wasm' && x.dtype === 'float32' && d.dtype === 'float32') {
        return { x: () => tf.engine().runKernel(NATIVE_RELU_GRAD, { dy: d, x }) as tf.Tensor };
      }
      return { x: () => tf.mul(d, tf.cast(tf.step(x), 'float32')) };
    },
  });
  reluGradientRegistered = true;
}

/** Names the implementation oneDNN picks for a convolution (forward | backward data | weights). */
export function convImplementation(info: backend_util.Conv2DInfo): string {
  return loadNativeAddon().convImpl(convParams(info));
}

/**
 * Training-mode batch norm over every axis but the last, forward and gradient in oneDNN (the
 * statistics and the closed-form gradient of batch-norm.ts, in one pass each). The returned
 * moments are the caller's to dispose.
 */
export function nativeBatchNormTrain(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number) {
  let stats: [tf.Tensor1D, tf.Tensor1D] | null = null;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, g, b, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const [y, mean, variance] = tf.engine().runKernel(NATIVE_BATCH_NORM, { x: xIn, gamma: g, beta: b }, { epsilon }) as tf.Tensor[];
    stats = [tf.keep(tf.clone(mean)) as tf.Tensor1D, tf.keep(tf.clone(variance)) as tf.Tensor1D];
    save([xIn, mean, variance, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, m, v, gam] = saved;
        return tf.engine().runKernel(NATIVE_BATCH_NORM_GRAD, { x: xs, mean: m, variance: v, gamma: gam, dy }, { epsilon }) as tf.Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta);
  const [mean, variance] = stats!;
  return { y, mean, variance };
}
