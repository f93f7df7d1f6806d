/**
 * tfjs-core registers its gradients only on request (the umbrella @tensorflow/tfjs package, not
 * used here, does it). Its register_all_gradients ships only as ES modules with extension-less
 * imports, which tsx loads and plain Node cannot, so the package build (scripts/build-package.sh)
 * replaces this file's compiled form with an esbuild bundle of it. The gradients go into tfjs's
 * global registry, so the bundled copy serves the tfjs-core that the rest of the library imports.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
