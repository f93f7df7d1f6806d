import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import './kernels/tfjs-gradients';
import { loadNativeAddon, nativeKernelNames, registerNativeKernels, unregisterNativeKernels } from './kernels/native';
import { registerWasmTrainingKernels } from './kernels/wasm-training';
import { type AdapterInfo, registerWebGPU, webgpuAdapter } from './webgpu';

/** The backends pbe-lab can run on, fastest first; the automatic choice takes webgpu only on a real GPU. */
export const BACKEND_ORDER = ['webgpu', 'node-gpu', 'node', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

const ALIASES: Record<string, BackendName> = {
  webgpu: 'webgpu',
  dawn: 'webgpu',
  'node-gpu': 'node-gpu',
  'tfjs-node-gpu': 'node-gpu',
  gpu: 'node-gpu',
  node: 'node',
  'tfjs-node': 'node',
  tensorflow: 'node',
  native: 'native',
  onednn: 'native',
  wasm: 'wasm',
  cpu: 'cpu',
};

export function parseBackendName(name: string, origin = 'backend'): BackendName {
  const b = ALIASES[name.trim().toLowerCase()];
  if (!b) throw new Error(`${origin}: unknown backend '${name}'; expected one of ${BACKEND_ORDER.join(', ')}`);
  return b;
}

let active: BackendName | null = null;

/**
 * Load one backend and make it current; throws with the reason if it cannot load.
 * `asked`: chosen by name, which lets webgpu run on a software adapter.
 */
async function load(name: BackendName, asked: boolean): Promise<void> {
  switch (name) {
    case 'webgpu': {
      await registerWebGPU(asked);
      // Small tensors whose data is still in JavaScript run on cpu (WEBGPU_CPU_FORWARD).
      require('@tensorflow/tfjs-backend-cpu');
      if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
      return;
    }
    case 'node-gpu':
    case 'node': {
      const pkg = name === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      // Both register a backend called 'tensorflow'; the package's own tfjs must be ours (one tfjs-core).
      require(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialise`);
      return;
    }
    case 'native':
    case 'wasm': {
      // 'native' is the wasm backend with oneDNN kernels over its memory: check the addon first.
      if (name === 'native') loadNativeAddon();
      require('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
      registerWasmTrainingKernels();
      if (name === 'native') registerNativeKernels();
      else unregisterNativeKernels();
      return;
    }
    case 'cpu': {
      require('@tensorflow/tfjs-backend-cpu');
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      // cpu was chosen on purpose (or is all there is): skip tfjs's "install tfjs-node" banner.
      (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
      return;
    }
  }
}

function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/**
 * Make the fastest loadable backend current (or the one asked for, by argument or
 * PBE_BACKEND). Asking for one that cannot load is an error, never a silent fallback.
 */
export async function initBackend(requested?: string): Promise<BackendName> {
  const ask = requested ?? process.env.PBE_BACKEND;
  if (ask && ask.trim() !== '') {
    const name = parseBackendName(ask, requested ? '--backend' : 'PBE_BACKEND');
    if (active === name) return name;
    try {
      await load(name, true);
    } catch (e) {
      throw new Error(`backend '${name}' was requested but cannot load: ${reason(e)}`, { cause: e });
    }
    active = name;
    return name;
  }
  if (active) return active;
  const failures: string[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      await load(name, false);
      active = name;
      return name;
    } catch (e) {
      failures.push(`${name}: ${reason(e)}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could load:\n  ${failures.join('\n  ')}`);
}

/**
 * Forgets the current choice, so that the next initBackend() without a name chooses as a fresh
 * process would (tests that switch backends put back the automatic choice with it).
 */
export function forgetBackendChoice(): void {
  active = null;
}

export function activeBackend(): BackendName {
  if (!active) throw new Error('no backend initialised yet: call initBackend() first');
  return active;
}

function packageVersion(pkg: string): string | null {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

export interface RuntimeInfo {
  backend: BackendName | null;
  tfBackend: string | null;
  /** with the native backend: oneDNN's version, its threads in this thread, the kernels it runs */
  native?: { oneDNN: string; threads: number; kernels: string[] };
  /** with the webgpu backend: the adapter Dawn opened */
  adapter?: AdapterInfo;
  versions: Record<string, string | null>;
  machine: { cpu: string; cores: number; memoryGiB: number; platform: string };
}

/** Backend, package versions and machine: printed by every run and stored with every result. */
export function runtimeInfo(): RuntimeInfo {
  const cpus = os.cpus();
  return {
    backend: active,
    tfBackend: active ? tf.getBackend() : null,
    ...(active === 'native' ? { native: nativeInfo() } : {}),
    ...(active === 'webgpu' ? { adapter: webgpuAdapter() ?? undefined } : {}),
    versions: {
      'pbe-lab': packageVersion('..'),
      node: process.versions.node,
      '@tensorflow/tfjs-core': tf.version_core,
      '@tensorflow/tfjs-backend-wasm': packageVersion('@tensorflow/tfjs-backend-wasm'),
      '@tensorflow/tfjs-backend-cpu': packageVersion('@tensorflow/tfjs-backend-cpu'),
      '@tensorflow/tfjs-node': packageVersion('@tensorflow/tfjs-node'),
      '@tensorflow/tfjs-node-gpu': packageVersion('@tensorflow/tfjs-node-gpu'),
      '@tensorflow/tfjs-backend-webgpu': packageVersion('@tensorflow/tfjs-backend-webgpu'),
      webgpu: packageVersion('webgpu'),
    },
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${process.platform}-${process.arch}`,
    },
  };
}

function nativeInfo(): NonNullable<RuntimeInfo['native']> {
  const lib = loadNativeAddon();
  return { oneDNN: lib.version(), threads: lib.getThreads(), kernels: nativeKernelNames() };
}

export function runtimeSummary(): string {
  const info = runtimeInfo();
  const v = info.versions;
  const native = info.native ? `, oneDNN ${info.native.oneDNN} on ${info.native.threads} thread(s)` : '';
  const adapter = info.adapter ? `, adapter ${adapterName(info.adapter)}` : '';
  return `backend ${info.backend ?? 'none'}${native}${adapter} (tfjs-core ${v['@tensorflow/tfjs-core']}, node ${v.node}) on ${info.machine.cores}× ${info.machine.cpu}`;
}

/** e.g. "nvidia ampere (NVIDIA H200)" or "google swiftshader (SwiftShader driver 5.0.0), software". */
export function adapterName(a: AdapterInfo): string {
  return `${a.vendor} ${a.architecture} (${a.description || a.device})${a.software ? ', software' : ''}`;
}
