import * as fs from 'node:fs';
import { initBackend } from '../../src/backend';

/** Debian's chromium package installs the SwiftShader Vulkan driver beside the browser. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Why the webgpu backend does not load here, or null where it does. With no Vulkan driver chosen,
 * SwiftShader is chosen when it is installed: the Vulkan loader reads the variable when Dawn
 * creates its instance, so setting it here, before the first load, is enough.
 */
export async function webgpuMissing(): Promise<string | null> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && fs.existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  try {
    await initBackend('webgpu');
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Skips the calling suite, saying why, where Dawn gives no device. */
export async function requireWebGPU(ctx: Mocha.Context): Promise<void> {
  const missing = await webgpuMissing();
  if (missing === null) return;
  console.log(`      (webgpu tests skipped: ${missing})`);
  ctx.skip();
}
