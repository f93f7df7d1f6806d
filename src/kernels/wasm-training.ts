import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Training kernels for the wasm backend.
 *
 * tfjs-backend-wasm has no Conv2DBackpropFilter, and its Conv2DBackpropInput and
 * transposed-operand MatMul run an order of magnitude below its forward Conv2D and plain
 * MatMul (XNNPACK). Every backward kernel here is therefore rewritten as a forward Conv2D or
 * a plain MatMul over transposed / reshaped tensors, composed from the backend's own kernels.
 */

type Inputs = Record<string, TensorInfo>;

interface WasmLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Runs backend kernels and disposes every intermediate it made except the one returned. */
class Composer {
  private readonly made: TensorInfo[] = [];

  constructor(private readonly backend: WasmLike) {}

  run(name: string, inputs: Inputs, attrs: NamedAttrMap = {}): TensorInfo {
    const out = original(name)({ inputs, attrs, backend: this.backend as never }) as TensorInfo;
    this.made.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  finish(result: TensorInfo): TensorInfo {
    for (const t of this.made) if (t !== result) this.backend.disposeData(t.dataId);
    return result;
  }
}

const originals = new Map<string, KernelFunc>();

function original(name: string): KernelFunc {
  const saved = originals.get(name);
  if (saved) return saved;
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no '${name}' kernel`);
  return k.kernelFunc;
}

function conv2DBackpropFilter({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== 'NHWC') throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const [kh, kw, ci, co] = filterShape;
  const { top, bottom, left, right } = info.padInfo;
  const c = new Composer(backend as unknown as WasmLike);
  // dW[a,b,i,o] = Σ_{n,p,q} x[n, p·s+a, q·s+b, i] · dy[n, p, q, o]: a forward conv with the
  // input channels as batch, the batch as channels, dy as a (dilated) filter.
  const xt = c.transpose(x, [3, 1, 2, 0]);
  const dyt = c.transpose(dy, [1, 2, 0, 3]);
  const conv = c.run(
    'Conv2D',
    { x: xt, filter: dyt },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ] as unknown as NamedAttrMap[string],
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
    },
  );
  const fitted = conv.shape[1] === kh && conv.shape[2] === kw ? conv : c.run('Slice', { x: conv }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
  return c.finish(c.transpose(fitted, [1, 2, 0, 3]));
}

function conv2DBackpropInput(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { inputShape, strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (dataFormat !== 'NHWC') return original('Conv2DBackpropInput')(args) as TensorInfo;
  const [n, h, w] = inputShape;
  const [kh, kw, ci, co] = filter.shape;
  const info = backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  const oh = info.outHeight;
  const ow = info.outWidth;
  // dx is the full correlation of dy (zero-dilated by the stride) with the flipped filter.
  const dh = (oh - 1) * sh + 1;
  const dw = (ow - 1) * sw + 1;
  const padTop = kh - 1 - info.padInfo.top;
  const padLeft = kw - 1 - info.padInfo.left;
  const padBottom = h - dh - padTop + kh - 1;
  const padRight = w - dw - padLeft + kw - 1;
  if (Math.min(padTop, padLeft, padBottom, padRight) < 0) return original('Conv2DBackpropInput')(args) as TensorInfo;
  const c = new Composer(backend as unknown as WasmLike);
  let grad = dy;
  if (sh > 1 || sw > 1) {
    const spaced = c.run(
      'PadV2',
      { x: c.reshape(dy, [n, oh, 1, ow, 1, co]) },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    const full = c.reshape(spaced, [n, oh * sh, ow * sw, co]);
    grad = c.run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [n, dh, dw, co] });
  }
  const flipped = c.transpose(c.run('Reverse', { x: filter }, { dims: [0, 1] }), [0, 1, 3, 2]);
  const dx = c.run(
    'Conv2D',
    { x: grad, filter: flipped },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [padTop, padBottom],
        [padLeft, padRight],
        [0, 0],
      ] as unknown as NamedAttrMap[string],
      dataFormat: 'NHWC',
      dilations: [1, 1],
    },
  );
  if (dx.shape[3] !== ci) throw new Error(`wasm Conv2DBackpropInput: produced ${dx.shape[3]} channels, expected ${ci}`);
  return c.finish(dx);
}

function batchMatMul(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  if (!transposeA && !transposeB) return original('BatchMatMul')(args) as TensorInfo;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const c = new Composer(backend as unknown as WasmLike);
  const swapLast = (t: TensorInfo) => {
    const perm = t.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return c.transpose(t, perm);
  };
  const out = c.run('BatchMatMul', { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b }, { transposeA: false, transposeB: false });
  return c.finish(out);
}

const REPLACEMENTS: Record<string, KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as KernelFunc,
  BatchMatMul: batchMatMul as KernelFunc,
};

/** Idempotent: installs the kernels above on the wasm backend, keeping the originals to call. */
export function registerWasmTrainingKernels(): void {
  for (const [name, kernelFunc] of Object.entries(REPLACEMENTS)) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing?.kernelFunc === kernelFunc) continue;
    if (existing) {
      // Only the first kernel seen is wasm's own: on a switch back from native, the one
      // registered is native's, and keeping it would run oneDNN under the name wasm.
      if (!originals.has(name)) originals.set(name, existing.kernelFunc);
      tf.unregisterKernel(name, 'wasm');
    }
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
  }
}
