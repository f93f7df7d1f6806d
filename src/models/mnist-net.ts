import { plainCnn } from './plain-cnn';

/**
 * A small net for 28×28×1 digits: conv3×3(16)-BN-ReLU-maxpool2, conv3×3(32)-BN-ReLU-maxpool2,
 * flatten, dense(128)-ReLU, dense(K). (The reference code's MNIST net has a stride-2 stem,
 * pre-activation blocks and dropout; dropout would make forward() random, so this simpler net
 * stands in.) `features` is the conv2 stage globally average-pooled (32 values), as for smallcnn.
 */
export const buildMnistNet = plainCnn({ widths: [16, 32], pooled: new Set([1, 2]), hidden: 128 });
