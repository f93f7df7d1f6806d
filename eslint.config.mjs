// ESLint's recommended rules and typescript-eslint's (without type information, so a run takes
// seconds); formatting is Prettier's alone (eslint-config-prettier turns off the rules it owns).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'build/', 'native/build/', 'paper-repro/out/', 'data-cache/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // As tsc's noUnusedParameters: a leading underscore marks a parameter a signature needs, and
      // `const { dropped, ...rest }` names what it drops.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // The modules that load other modules at run time: optional backends (and Dawn) only when asked
    // for, the native addon by path, job modules by the path a job names, tslab's display hook where present.
    files: ['src/backend.ts', 'src/webgpu.ts', 'src/kernels/native.ts', 'src/jobs/worker.ts', 'src/notebook/output.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The plain .js files are CommonJS entry points that run before any TypeScript loader.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
