import { activeBackend, type BackendName, forgetBackendChoice, initBackend } from '../../src/backend';
import { nativeMissing } from '../backend/native-available';

function current(): BackendName | null {
  try {
    return activeBackend();
  } catch {
    return null;
  }
}

/**
 * Runs the enclosing suite on `name` and, when it ends, puts back the backend it found (in a fresh
 * mocha worker, none: then the automatic choice), so no test file leaves its backend to the next
 * (call it where `before` would go).
 */
export function useBackend(name: BackendName): void {
  let previous: BackendName | null = null;
  before(async () => {
    previous = current();
    await initBackend(name);
  });
  after(async () => {
    if (previous === null) {
      forgetBackendChoice();
      await initBackend();
    } else if (current() !== previous) await initBackend(previous);
  });
}

/**
 * native where the oneDNN addon is built, else wasm: for suites about an attack, a defense or an
 * experiment rather than a backend. They pass on either, and run on the backend the pipeline
 * runs on where it is there (at about half wasm's time); the backend suites test both.
 */
export function pipelineBackend(): BackendName {
  return nativeMissing() === null ? 'native' : 'wasm';
}
