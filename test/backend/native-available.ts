import { loadNativeAddon } from '../../src/kernels/native';

/** Why the oneDNN addon does not load here, or null where it is built. */
export function nativeMissing(): string | null {
  try {
    loadNativeAddon();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Skips the calling suite, saying why, where the oneDNN addon was not built (wasm is tested anyway). */
export function requireNative(ctx: Mocha.Context): void {
  const missing = nativeMissing();
  if (missing === null) return;
  console.log(`      (native backend tests skipped: ${missing})`);
  ctx.skip();
}

/** The backends a suite that must hold on both runs on: wasm always, native where it is built. */
export const WASM_AND_NATIVE = ['wasm', 'native'] as const;

/** A pool job: the oneDNN thread count its worker runs with. */
export async function nativeThreadsJob(): Promise<number> {
  return loadNativeAddon().getThreads();
}
