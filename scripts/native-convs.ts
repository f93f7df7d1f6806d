import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
import { convImplementation, loadNativeAddon } from '../src/kernels/native';
(async () => {
  await initBackend('native');
  loadNativeAddon().setThreads(Number(process.argv[2] ?? 1));
  const n = 128;
  for (const [h, ci, co] of [
    [32, 3, 32],
    [32, 32, 32],
    [16, 32, 64],
    [16, 64, 64],
    [8, 64, 128],
  ]) {
    const x = tf.randomNormal([n, h, h, ci]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, ci, co]) as tf.Tensor4D;
    const dy = tf.randomNormal([n, h, h, co]) as tf.Tensor4D;
    const flops = 2 * n * h * h * co * ci * 9;
    const time = (f: () => tf.Tensor) => {
      for (let i = 0; i < 2; i++) f().dispose();
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) f().dispose();
      return (performance.now() - t0) / 5;
    };
    const tf_ = time(() => tf.conv2d(x, w, 1, 1));
    const td = time(() => tf.conv2dTranspose(dy, w, [n, h, h, ci] as never, 1, 1) as tf.Tensor);
    const tw = time(
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 1, dataFormat: 'NHWC', filterShape: [3, 3, ci, co] }) as tf.Tensor,
    );
    const info = backend_util.computeConv2DInfo(x.shape, w.shape, 1, 1, 1);
    const g = (t: number) => (flops / t / 1e6).toFixed(0).padStart(4);
    console.log(
      `${h}x${h} ${ci}->${co}: fwd ${tf_.toFixed(1)} ms ${g(tf_)} GF/s, bwd-data ${td.toFixed(1)} ms ${g(td)}, bwd-w ${tw.toFixed(1)} ms ${g(tw)}  [${convImplementation(info)}]`,
    );
    tf.dispose([x, w, dy]);
  }
})();
