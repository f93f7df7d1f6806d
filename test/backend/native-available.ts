import { loadNativeAddon } from '../../src/kernels/native';

/** Skips the calling suite, saying why, where the oneDNN addon was not built (wasm is tested anyway). */
export function requireNative(ctx: Mocha.Context): void {
  try {
    loadNativeAddon();
  } catch (e) {
    console.log(`      (native backend tests skipped: ${(e as Error).message})`);
    ctx.skip();
  }
}

/** Whether the oneDNN addon loads, for a suite that only needs the fastest backend available. */
export function nativeBuilt(): boolean {
  try {
    loadNativeAddon();
    return true;
  } catch {
    return false;
  }
}

/** The backends a suite that must hold on both runs on: wasm always, native where it is built. */
export const WASM_AND_NATIVE = ['wasm', 'native'] as const;

/** A pool job: the oneDNN thread count its worker runs with. */
export async function nativeThreadsJob(): Promise<number> {
  return loadNativeAddon().getThreads();
}
