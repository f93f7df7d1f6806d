import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/**
 * WebGPU through Dawn (the npm package `webgpu`), the GPU path that installs from npm alone.
 *
 * tfjs-backend-webgpu is written for a browser, so three things are arranged here:
 * - Dawn's `globals` (GPUBufferUsage, GPUMapMode, …) go onto globalThis, which the backend reads.
 * - The backend package is loaded while `navigator.gpu` is absent, so its own registration stays
 *   off: it asks for `requiredFeatures` with an array inside, which Dawn rejects. The device is
 *   requested here instead, and `navigator.gpu` exists only while the backend's constructor
 *   checks for it; left in place, the reference keeps the process from exiting.
 * - Synchronous reads (dataSync) go through OffscreenCanvas, which Node lacks: the code that
 *   runs on this backend reads with `await t.data()`.
 */

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** true for a software (CPU) implementation such as SwiftShader */
  software: boolean;
  limits: Record<string, number>;
}

/** The adapter limits the backend's kernels depend on; the device is requested with these. */
const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

interface DawnAdapter {
  info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  limits: Record<string, number>;
  requestDevice(descriptor: { requiredLimits: Record<string, number> }): Promise<DawnDevice>;
}
interface DawnDevice {
  lost: Promise<{ reason: string; message: string }>;
}
interface DawnGpu {
  requestAdapter(options?: { powerPreference?: string }): Promise<DawnAdapter | null>;
}

/** Dawn frees its instance and adapter when they are collected, under a device still in use: hold them. */
let held: { gpu: DawnGpu; adapter: DawnAdapter; device: DawnDevice; info: AdapterInfo } | null = null;

/** A software adapter an automatic choice found and refused: the next one is refused without a probe. */
let refusedSoftware: AdapterInfo | null = null;

/** The adapter the webgpu backend runs on, once it has loaded. */
export function webgpuAdapter(): AdapterInfo | null {
  return held?.info ?? null;
}

function describe(adapter: DawnAdapter): AdapterInfo {
  const i = adapter.info;
  const limits: Record<string, number> = {};
  for (const k of LIMITS) limits[k] = adapter.limits[k];
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    software: i.isFallbackAdapter === true,
    limits,
  };
}

/**
 * On Linux, why Dawn would find no Vulkan driver, or null. Asked before an automatic probe, which
 * would otherwise print Dawn's "Found no drivers" warnings on every machine without a GPU.
 */
export function vulkanDriverMissing(): string | null {
  if (process.platform !== 'linux' || process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return null;
  const dirs = ['/etc', '/usr/share', '/usr/local/share', ...(process.env.XDG_DATA_DIRS ?? '').split(':').filter(Boolean)].map((d) =>
    path.join(d, 'vulkan', 'icd.d'),
  );
  const found = dirs.some((d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => f.endsWith('.json')));
  return found ? null : `no Vulkan driver installed (no ICD in ${dirs.join(', ')}, VK_ICD_FILENAMES unset)`;
}

function loadPackage(pkg: string): unknown {
  try {
    return require(pkg);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND')
      throw new Error(`the optional package ${pkg} is not installed (npm install skipped it or it was left out)`, { cause: e });
    throw e;
  }
}

/**
 * Opens Dawn's adapter and registers tfjs's 'webgpu' backend on it. `allowSoftware` false
 * refuses a software adapter, so an automatic choice never lands on a CPU emulating a GPU.
 * Idempotent once it has succeeded.
 */
export async function registerWebGPU(allowSoftware: boolean): Promise<AdapterInfo> {
  if (held) {
    if (held.info.software && !allowSoftware) throw softwareRefused(held.info);
    return held.info;
  }
  if (!allowSoftware) {
    if (refusedSoftware) throw softwareRefused(refusedSoftware);
    const missing = vulkanDriverMissing();
    if (missing) throw new Error(missing);
  }
  const dawn = loadPackage('webgpu') as { create(flags: string[]): DawnGpu; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  const { WebGPUBackend } = loadPackage('@tensorflow/tfjs-backend-webgpu') as {
    WebGPUBackend: new (device: DawnDevice, info: DawnAdapter['info']) => tf.KernelBackend;
  };
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter)
    throw new Error(
      'Dawn found no usable Vulkan/Metal/D3D12 adapter (no GPU driver; for a software device on Linux point VK_ICD_FILENAMES at SwiftShader, see docs/webgpu.md)',
    );
  const info = describe(adapter);
  if (info.software && !allowSoftware) {
    refusedSoftware = info;
    throw softwareRefused(info);
  }
  const device = await adapter.requestDevice({ requiredLimits: info.limits });
  void device.lost.then((l) => {
    if (l.reason !== 'destroyed') console.error(`pbe: the WebGPU device was lost: ${l.message}`);
  });
  const backend = withNavigator(gpu, () => new WebGPUBackend(device, adapter.info));
  tf.registerBackend('webgpu', () => backend);
  held = { gpu, adapter, device, info };
  return info;
}

function softwareRefused(info: AdapterInfo): Error {
  return new Error(`the adapter is a software one (${info.description}); ask for it by name (PBE_BACKEND=webgpu) to use it`);
}

/** Runs `fn` with `navigator.gpu` defined, then puts back whatever `navigator` was before. */
function withNavigator<T>(gpu: DawnGpu, fn: () => T): T {
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  try {
    return fn();
  } finally {
    if (before) Object.defineProperty(globalThis, 'navigator', before);
    else delete (globalThis as { navigator?: unknown }).navigator;
  }
}
