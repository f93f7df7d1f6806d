import * as tf from '@tensorflow/tfjs-core';

/**
 * Attention maps and the attention-distillation loss of NAD (Li et al., ICLR 2021, Eq. 1–2), as
 * in the authors' `at.py` (bboylyg/NAD, itself from Knowledge-Distillation-Zoo): the map of an
 * activation is Σ_c |a_c|^p over channels, divided by its Frobenius norm over the spatial grid
 * (+1e-6), and the loss between student and teacher maps is their mean squared difference over
 * every image and position.
 */
export const ATTENTION_EPS = 1e-6;

/** [N, H, W, C] → [N, H, W]: Σ_c |a|^p, each image's map scaled to unit Frobenius norm. */
export function attentionMap(activation: tf.Tensor4D, p: number): tf.Tensor3D {
  if (!(p > 0)) throw new Error(`attention map: power p must be > 0, got ${p}`);
  return tf.tidy(() => {
    const am = tf.sum(tf.pow(tf.abs(activation), p), 3) as tf.Tensor3D;
    const norm = tf.sqrt(tf.sum(tf.square(am), [1, 2], true));
    return tf.div(am, tf.add(norm, ATTENTION_EPS));
  });
}

/**
 * MSE between the student's and the teacher's attention maps. The teacher's activations are
 * computed by another model, so no gradient reaches its weights.
 */
export function attentionLoss(student: tf.Tensor4D, teacher: tf.Tensor4D, p: number): tf.Scalar {
  if (!tf.util.arraysEqual(student.shape, teacher.shape)) {
    throw new Error(`attention loss: student activation [${student.shape}] and teacher activation [${teacher.shape}] differ in shape`);
  }
  return tf.tidy(() => tf.mean(tf.squaredDifference(attentionMap(student, p), attentionMap(teacher, p))) as tf.Scalar);
}

/** One distilled layer: its activation name, the power p and the weight β of its term. */
export interface AttentionTerm {
  layer: string;
  p: number;
  beta: number;
}

/** Σ_layers β·AT(student, teacher): NAD's distillation term, added to the cross-entropy. */
export function attentionDistillation(terms: readonly AttentionTerm[], student: Record<string, tf.Tensor4D>, teacher: Record<string, tf.Tensor4D>): tf.Scalar {
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    for (const { layer, p, beta } of terms) {
      if (!student[layer] || !teacher[layer]) throw new Error(`attention distillation: no activation '${layer}' from both networks`);
      total = tf.add(total, tf.mul(attentionLoss(student[layer], teacher[layer], p), beta));
    }
    return total;
  });
}
