'use strict';
// ESLint for the workspace: `npm run lint` (part of `npm test`) and `npx nx lint <project>`.
// - typescript-eslint's recommended rules;
// - the module boundaries of docs ARCHITECTURE.md ("what may import what"): Nx's
//   enforce-module-boundaries over the projects' tags (project.json), on two axes:
//     type:  pure (random, box-math) < model (backbone) < training < task (detection-*, face-distill, geo)
//            data (datasets), util (cli-kit), runtime, app, tools, e2e
//     scope: shared, or one application area (classify, mobilenet, detection, face, geo);
// - @nx/dependency-checks: a library's package.json declares every package its sources import.
// test/boundaries.test.ts lints forbidden imports and expects these rules to report them.
const js = require('@eslint/js');
const { createProjectGraphAsync } = require('@nx/devkit');
const nx = require('@nx/eslint-plugin');
const globals = require('globals');
const jsoncParser = require('jsonc-eslint-parser');
const tseslint = require('typescript-eslint');

/** Picking a tfjs backend or talking to onnxruntime is runtime's job alone (`setup()`, `createSession()`). */
const BACKENDS = ['@tensorflow/tfjs-backend-*', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs', 'onnxruntime-*'];
const LIBRARIES = ['type:pure', 'type:model', 'type:training', 'type:task', 'type:data', 'type:util', 'type:runtime'];

/**
 * @param {{ tests: boolean }} options tests may pick a backend (they are their own app), nothing else changes
 * @returns {object[]} enforce-module-boundaries' depConstraints
 */
function depConstraints({ tests }) {
  const banned = (list) => (tests ? list.filter((name) => !BACKENDS.includes(name)) : list);
  return [
    // random, box-math: plain TypeScript that training, data and ONNX inference share; no tfjs at all.
    { sourceTag: 'type:pure', onlyDependOnLibsWithTags: ['type:pure'], bannedExternalImports: banned([...BACKENDS, '@tensorflow/*', 'sharp']) },
    // Libraries below runtime never import runtime and never pick a backend.
    { sourceTag: 'type:model', onlyDependOnLibsWithTags: ['type:pure', 'type:model'], bannedExternalImports: banned(BACKENDS) },
    { sourceTag: 'type:training', onlyDependOnLibsWithTags: ['type:pure', 'type:model'], bannedExternalImports: banned(BACKENDS) },
    // A task package never imports another task package (shared pieces move down), nor datasets.
    { sourceTag: 'type:task', onlyDependOnLibsWithTags: ['type:pure', 'type:model', 'type:training'], bannedExternalImports: banned(BACKENDS) },
    { sourceTag: 'type:data', onlyDependOnLibsWithTags: ['type:pure'], bannedExternalImports: banned(BACKENDS) },
    // cli-kit: what apps share — architecture options build backbones, the progress bar reads fit's callbacks.
    { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:pure', 'type:util', 'type:model', 'type:training'], bannedExternalImports: banned(BACKENDS) },
    // runtime may import training (its workers implement the step) and the backbone (kernels, layers).
    { sourceTag: 'type:runtime', onlyDependOnLibsWithTags: ['type:pure', 'type:model', 'type:training'] },
    // Apps wire libraries together; no app imports another app, and backends come from runtime's setup().
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: LIBRARIES, bannedExternalImports: banned(BACKENDS) },
    { sourceTag: 'type:tools', onlyDependOnLibsWithTags: LIBRARIES, bannedExternalImports: banned(BACKENDS) },
    { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: [...LIBRARIES, 'type:tools'] },
    // Scopes: shared code depends on shared code only; an application area adds its own.
    { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
    { sourceTag: 'scope:classify', onlyDependOnLibsWithTags: ['scope:shared', 'scope:classify'] },
    // The umbrella CLI (apps/mobilenet) summarises every model the project builds: its `summary --model
    // ssd | ssdlite` profiles the detectors, so it may also depend on the detection area's libraries.
    { sourceTag: 'scope:mobilenet', onlyDependOnLibsWithTags: ['scope:shared', 'scope:mobilenet', 'scope:detection'] },
    { sourceTag: 'scope:detection', onlyDependOnLibsWithTags: ['scope:shared', 'scope:detection'] },
    // tools/ (the demo and the benchmarks) exercise every area, so they may use every area's libraries.
    { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:shared', 'scope:classify', 'scope:mobilenet', 'scope:detection', 'scope:face', 'scope:geo'] },
    { sourceTag: 'scope:face', onlyDependOnLibsWithTags: ['scope:shared', 'scope:face'] },
    { sourceTag: 'scope:geo', onlyDependOnLibsWithTags: ['scope:shared', 'scope:geo'] },
  ];
}

const boundaries = (tests) => ({
  '@nx/enforce-module-boundaries': ['error', {
    enforceBuildableLibDependency: true,
    // Nx's lazy-loading check is for bundled front ends; a require() in a Node function is not a lazy chunk.
    checkDynamicDependenciesExceptions: ['@mobilenets/*'],
    depConstraints: depConstraints({ tests }),
  }],
});

const TEST_FILES = ['**/*.test.ts', 'test/**/*.ts', '**/testing.ts'];

const config = [
  { ignores: ['**/node_modules/', '**/dist/', '**/coverage/', '.nx/', 'tmp/', 'out/', 'docs/'] },
  { plugins: { '@nx': nx } },
  {
    files: ['**/*.js'],
    ...js.configs.recommended,
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2022, globals: { ...globals.node } },
  },
  ...tseslint.configs.recommended.map((config) => ({ ...config, files: ['**/*.ts'] })),
  {
    files: ['**/*.ts'],
    rules: {
      ...boundaries(false),
      // The sources use require() on purpose: optional modules (tfjs-node), lazy loads, package.json.
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  { files: TEST_FILES, rules: boundaries(true) },
  {
    files: ['packages/*/package.json'],
    languageOptions: { parser: jsoncParser },
    rules: {
      '@nx/dependency-checks': ['error', {
        // Loaded by computed names at run time, so not seen as imports: the backends runtime's setup()
        // tries, and the face-api package whose model files runtime reads.
        ignoredDependencies: ['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-node', '@vladmandic/face-api'],
        ignoredFiles: ['{projectRoot}/src/**/*.test.ts', '{projectRoot}/src/**/testing.ts', '{projectRoot}/jest.config.js'],
      }],
    },
  },
];

// The Nx rules read the project graph from Nx's cache (.nx/workspace-data); without one (a fresh clone)
// they skip silently, and a stale one carries old tags. So compute it first (ESLint awaits the promise).
module.exports = createProjectGraphAsync({ exitOnError: false }).then(() => config);
