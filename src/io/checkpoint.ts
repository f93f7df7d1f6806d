import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { sha256, writeFileAtomic } from '../cache';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

interface ModelJson {
  format: 'pbe-lab-checkpoint';
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  weightsSha256: string;
  userDefinedMetadata?: Metadata;
}

/** JSON-serialisable metadata stored beside the weights. */
export type Metadata = { [key: string]: NonNullable<unknown> };

function toBytes(data: tf.io.WeightData): Uint8Array {
  const buffer = Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  return new Uint8Array(buffer);
}

/**
 * A tf.io handler for a folder holding `model.json` and `weights.bin`, in the layout tfjs
 * uses, so checkpoints need no tfjs-node. model.json records the weights' sha256 and is
 * written last: a folder whose weights do not match is refused on load.
 */
export function folderHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (!artifacts.weightData || !artifacts.weightSpecs) throw new Error(`checkpoint ${dir}: nothing to save (no weights)`);
      const weights = toBytes(artifacts.weightData);
      const json: ModelJson = {
        format: 'pbe-lab-checkpoint',
        modelTopology: artifacts.modelTopology ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
        weightsSha256: sha256(weights),
        userDefinedMetadata: artifacts.userDefinedMetadata,
      };
      writeFileAtomic(path.join(dir, WEIGHTS_BIN), weights);
      writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weights.byteLength,
        },
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, MODEL_JSON);
      if (!fs.existsSync(jsonPath)) throw new Error(`checkpoint ${dir}: ${MODEL_JSON} is missing`);
      let json: ModelJson;
      try {
        json = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as ModelJson;
      } catch (e) {
        throw new Error(`checkpoint ${jsonPath}: not valid JSON (${(e as Error).message})`, { cause: e });
      }
      if (json.format !== 'pbe-lab-checkpoint' || !Array.isArray(json.weightsManifest)) {
        throw new Error(`checkpoint ${jsonPath}: not a pbe-lab checkpoint (field 'format' or 'weightsManifest' missing)`);
      }
      const binPath = path.join(dir, WEIGHTS_BIN);
      if (!fs.existsSync(binPath)) throw new Error(`checkpoint ${dir}: ${WEIGHTS_BIN} is missing`);
      const weights = fs.readFileSync(binPath);
      if (sha256(weights) !== json.weightsSha256) {
        throw new Error(`checkpoint ${binPath}: checksum does not match model.json (partial or corrupted write)`);
      }
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Save named tensors (a model's weights and state, an optimiser's slots) with metadata. */
export async function saveTensors(dir: string, tensors: NamedTensor[], metadata: Metadata = {}): Promise<void> {
  const names = new Set<string>();
  for (const { name } of tensors) {
    if (names.has(name)) throw new Error(`checkpoint ${dir}: duplicate tensor name '${name}'`);
    names.add(name);
  }
  const { data, specs } = await tf.io.encodeWeights(tensors);
  await folderHandler(dir).save!({ weightData: data, weightSpecs: specs, userDefinedMetadata: metadata });
}

/** Load what saveTensors wrote. The caller owns (and disposes) the returned tensors. */
export async function loadTensors(dir: string): Promise<{ tensors: Record<string, tf.Tensor>; metadata: Metadata }> {
  const artifacts = await folderHandler(dir).load!();
  const tensors = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!) as Record<string, tf.Tensor>;
  return { tensors, metadata: artifacts.userDefinedMetadata ?? {} };
}

/** Copies the tensors saved in `dir` into `target` (which copies them), disposing what was read. */
export async function loadWeightsInto(dir: string, target: { loadWeights(weights: Record<string, tf.Tensor>): void }): Promise<Metadata> {
  const { tensors, metadata } = await loadTensors(dir);
  try {
    target.loadWeights(tensors);
  } finally {
    tf.dispose(Object.values(tensors));
  }
  return metadata;
}
