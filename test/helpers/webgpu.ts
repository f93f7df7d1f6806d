import * as fs from 'node:fs';
import { initBackend, parseBackendName } from '../../src/backend';
import { registerWebGPU, vulkanDriverMissing } from '../../src/webgpu';

/** Debian's chromium package installs the SwiftShader Vulkan driver beside the browser. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Set (to "1") by this file, which .mocharc loads first, when PBE_BACKEND asked for webgpu: the
 * webgpu tests then run on any adapter, software ones included. Mocha's parallel workers inherit
 * it from the main process.
 */
const FORCED = 'PBE_TEST_WEBGPU';

/*
 * PBE_BACKEND=webgpu npm test means "run the webgpu tests too", not "run every test on webgpu":
 * the analyses and several defenses still read tensors synchronously, which webgpu cannot do in
 * Node. So the variable is taken off here, before any test file loads, and the other tests keep
 * the backends they pin (or the automatic choice, for the CLI processes they start).
 */
const asked = process.env.PBE_BACKEND;
if (asked !== undefined && asked.trim() !== '' && parseBackendName(asked, 'PBE_BACKEND') === 'webgpu') {
  process.env[FORCED] = '1';
  delete process.env.PBE_BACKEND;
}

/**
 * Why the webgpu tests do not run here, or null where they do. They run on a real GPU's adapter,
 * or on any adapter (SwiftShader here) when PBE_BACKEND=webgpu asked for them. Forced, on a machine
 * with no Vulkan driver installed or named, the SwiftShader driver is named when it is installed
 * (the Vulkan loader reads the variable when Dawn creates its instance, so setting it before the
 * first load is enough); a GPU's own driver is never overridden.
 */
export async function webgpuMissing(): Promise<string | null> {
  const forced = process.env[FORCED] === '1';
  if (forced && vulkanDriverMissing() !== null && fs.existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  try {
    // By name, a software adapter is accepted; automatically, only a real GPU's.
    await (forced ? initBackend('webgpu') : probeRealGpu());
    return null;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    // A refused software adapter's reason already names PBE_BACKEND=webgpu.
    return forced || why.includes('PBE_BACKEND=webgpu') ? why : `${why}; PBE_BACKEND=webgpu runs them on a software adapter`;
  }
}

/** Loads webgpu only on an adapter the automatic backend choice would take (not a software one). */
async function probeRealGpu(): Promise<void> {
  await registerWebGPU(false);
  await initBackend('webgpu');
}

/** Skips the calling suite with a one-line reason where the webgpu tests do not run. */
export async function requireWebGPU(ctx: Mocha.Context): Promise<void> {
  const missing = await webgpuMissing();
  if (missing === null) return;
  console.log(`      (webgpu tests skipped: ${missing})`);
  ctx.skip();
}
