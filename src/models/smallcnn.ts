import { plainCnn } from './plain-cnn';

/**
 * conv3×3(32)-BN-ReLU, conv3×3(32)-BN-ReLU, maxpool2, conv3×3(64)-BN-ReLU, conv3×3(64)-BN-ReLU,
 * maxpool2, conv3×3(128)-BN-ReLU, maxpool2, flatten, dense(256)-ReLU, dense(K); 'same' padding.
 * Fixed exactly, so that benchmarks compare like with like. `features` is the conv5 stage, pooled
 * to 128 values.
 */
export const buildSmallCnn = plainCnn({ widths: [32, 32, 64, 64, 128], pooled: new Set([2, 4, 5]), hidden: 256 });
