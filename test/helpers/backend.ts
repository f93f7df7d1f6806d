import { activeBackend, type BackendName, forgetBackendChoice, initBackend } from '../../src/backend';

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
