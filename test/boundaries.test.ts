/**
 * The module boundaries hold: the workspace's ESLint configuration (eslint.config.js, which `npm test`
 * runs over the whole workspace before Jest) reports each forbidden import below, written as if it were
 * a file of the project named by its path, and accepts the allowed ones. Nothing is written to disk.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

interface Message {
  ruleId: string | null;
  message: string;
}

/** Lints each text as the file at its path, in one ESLint process outside Jest's module system. */
function lint(files: { filePath: string; code: string }[]): Message[][] {
  const script = `
    const { ESLint } = require('eslint');
    (async () => {
      const eslint = new ESLint({ cwd: ${JSON.stringify(ROOT)} });
      const results = [];
      for (const { filePath, code } of ${JSON.stringify(files)}) {
        const [result] = await eslint.lintText(code, { filePath });
        results.push(result.messages.map(({ ruleId, message }) => ({ ruleId, message })));
      }
      console.log(JSON.stringify(results));
    })().catch((error) => { console.error(error); process.exitCode = 1; });`;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' }, timeout: 300_000 });
  if (run.status !== 0) throw new Error(`eslint failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Message[][];
}

const FORBIDDEN: [string, string, string, RegExp][] = [
  // runtime depends on training and backbone, so these are also cycles, which the rule reports first.
  ['training imports runtime', 'packages/training/src/boundary-fixture.ts', "import { setup } from '@mobilenets/runtime';\nexport const s = setup;\n", /"type:training" can only depend on libs tagged with|Circular dependency between "training" and "runtime"/],
  ['backbone imports runtime', 'packages/backbone/src/boundary-fixture.ts', "export { setup } from '@mobilenets/runtime';\n", /"type:model" can only depend on libs tagged with|Circular dependency between "backbone" and "runtime"/],
  ['cli-kit imports runtime', 'packages/cli-kit/src/boundary-fixture.ts', "export { setup } from '@mobilenets/runtime';\n", /"type:util" can only depend on libs tagged with "type:pure", "type:util"/],
  ['backbone picks a backend', 'packages/backbone/src/boundary-fixture.ts', "import '@tensorflow/tfjs-backend-wasm';\n", /"type:model" is not allowed to import "@tensorflow\/tfjs-backend-wasm"/],
  ['training loads tfjs-node', 'packages/training/src/boundary-fixture.ts', "import '@tensorflow/tfjs-node';\n", /"type:training" is not allowed to import "@tensorflow\/tfjs-node"/],
  ['backbone talks to onnxruntime', 'packages/backbone/src/boundary-fixture.ts', "import * as ort from 'onnxruntime-node';\nexport const o = ort;\n", /not allowed to import "onnxruntime-node"/],
  ['an app picks a backend itself', 'apps/classify/src/boundary-fixture.ts', "import '@tensorflow/tfjs-backend-cpu';\n", /"type:app" is not allowed to import "@tensorflow\/tfjs-backend-cpu"/],
  ['a library imports tools', 'packages/training/src/boundary-fixture.ts', "import { runCli } from '../../../tools/run-cli';\nexport const r = runCli;\n", /cannot be imported by a relative or absolute path/],
  ['a library imports an app', 'packages/runtime/src/boundary-fixture.ts', "import { main } from '@mobilenets/mobilenet-cli';\nexport const m = main;\n", /Imports of apps are forbidden|Circular dependency between "runtime" and "mobilenet"/],
  ['the end-to-end tests import an app', 'test/boundary-fixture.ts', "import { main } from '@mobilenets/classify-app';\nexport const m = main;\n", /Imports of apps are forbidden/],
  ['an app imports another app', 'apps/classify/src/boundary-fixture.ts', "import { main } from '../../mobilenet/src/main';\nexport const m = main;\n", /cannot be imported by a relative or absolute path/],
  ['the classify app imports the detection area', 'apps/classify/src/boundary-fixture.ts', "import { createSsd } from '@mobilenets/detection-ssd';\nexport const build = createSsd;\n", /"scope:classify" can only depend on libs tagged with "scope:shared", "scope:classify"/],
  ['datasets imports training', 'packages/datasets/src/boundary-fixture.ts', "import { fit } from '@mobilenets/training';\nexport const f = fit;\n", /"type:data" can only depend on libs tagged with/],
];

const ALLOWED: [string, string, string][] = [
  ['runtime imports training and backbone', 'packages/runtime/src/boundary-fixture.ts', "import { fit } from '@mobilenets/training';\nimport { profile } from '@mobilenets/backbone';\nexport const both = [fit, profile];\n"],
  ['a backbone test picks the cpu backend', 'packages/backbone/src/boundary-fixture.test.ts', "import '@tensorflow/tfjs-backend-cpu';\n"],
  ['an app uses runtime, datasets and cli-kit', 'apps/classify/src/boundary-fixture.ts', "import { setup } from '@mobilenets/runtime';\nimport { readImageFolder } from '@mobilenets/datasets';\nimport { formatTable } from '@mobilenets/cli-kit';\nexport const all = [setup, readImageFolder, formatTable];\n"],
  ['the umbrella CLI (scope:mobilenet) profiles the detectors of scope:detection', 'apps/mobilenet/src/boundary-fixture.ts', "import { createSsd } from '@mobilenets/detection-ssd';\nexport const build = createSsd;\n"],
];

/** runtime's package.json without one of its dependencies. */
function runtimeManifestWithout(dependency: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/runtime/package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const dependencies = Object.fromEntries(Object.entries(manifest.dependencies).filter(([name]) => name !== dependency));
  return JSON.stringify({ ...manifest, dependencies }, null, 2);
}

describe('module boundaries (eslint.config.js)', () => {
  let results: Message[][];
  beforeAll(() => {
    results = lint([
      ...FORBIDDEN.map(([, filePath, code]) => ({ filePath: path.join(ROOT, filePath), code })),
      ...ALLOWED.map(([, filePath, code]) => ({ filePath: path.join(ROOT, filePath), code })),
      { filePath: path.join(ROOT, 'packages/runtime/package.json'), code: runtimeManifestWithout('onnxruntime-node') },
    ]);
  }, 300_000);

  it.each(FORBIDDEN.map((c, i) => [...c, i] as const))('reports: %s', (_name, _file, _code, expected, i) => {
    const boundaryErrors = results[i].filter((m) => m.ruleId === '@nx/enforce-module-boundaries');
    expect(boundaryErrors.map((m) => m.message)).toEqual([expect.stringMatching(expected)]);
  });

  it.each(ALLOWED.map((c, i) => [...c, FORBIDDEN.length + i] as const))('accepts: %s', (_name, _file, _code, i) => {
    expect(results[i]).toEqual([]);
  });

  it("reports a dependency a library's sources import but its package.json does not declare", () => {
    const messages = results[FORBIDDEN.length + ALLOWED.length];
    expect(messages).toEqual([{ ruleId: '@nx/dependency-checks', message: expect.stringMatching(/"runtime" project uses the following packages, but they are missing from "(peerD|d)ependencies":\s*- onnxruntime-node/) }]);
  });
});
