'use strict';
// Lets Node run the workspace's TypeScript sources (apps' bins, tools, data-parallel workers) with no
// build step:
// - ts-node in transpile-only mode with the workspace's compiler options (type checking is
//   `npm run typecheck`'s job);
// - `@mobilenets/*` resolves to each package's sources: the "@mobilenets/source" condition of its
//   exports map, the same condition TypeScript (customConditions) and Jest (customExportConditions)
//   use. Node has no way to add an export condition once it runs, so this hooks require's resolution.
//   Outside the workspace, packages resolve to their built dist/ as usual.
// - MOBILENETS_TS_REGISTER names this file, so that worker threads started from this process can load
//   it too (see packages/runtime/src/start-entry.js).
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const SOURCE_CONDITION = '@mobilenets/source';
const SCOPE = '@mobilenets/';

process.env.MOBILENETS_TS_REGISTER = __filename;

require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', 'tsconfig.base.json'),
  compilerOptions: { sourceMap: true },
});

/** @type {Map<string, string | null>} package.json path + subpath → source file (null: no source condition) */
const sourceEntries = new Map();

/** The file a `@mobilenets/<name>[/subpath]` request resolves to under the source condition, if the package declares one. */
function sourceEntry(request, parent) {
  const slash = request.indexOf('/', SCOPE.length);
  const packageName = slash === -1 ? request : request.slice(0, slash);
  const subpath = slash === -1 ? '.' : `.${request.slice(slash)}`;
  const lookupPaths = (parent && parent.paths) || Module._nodeModulePaths(process.cwd());
  for (const dir of lookupPaths) {
    const packageJson = path.join(dir, packageName, 'package.json');
    const key = `${packageJson}\0${subpath}`;
    if (!sourceEntries.has(key)) {
      if (!fs.existsSync(packageJson)) continue;
      const { exports } = JSON.parse(fs.readFileSync(packageJson, 'utf8'));
      const entry = exports && typeof exports === 'object' ? exports[subpath] : undefined;
      const source = entry && typeof entry === 'object' ? entry[SOURCE_CONDITION] : undefined;
      sourceEntries.set(key, typeof source === 'string' ? fs.realpathSync(path.resolve(path.dirname(packageJson), source)) : null);
    }
    return sourceEntries.get(key);
  }
  return null;
}

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveWithSourceCondition(request, parent, ...rest) {
  if (request.startsWith(SCOPE)) {
    const source = sourceEntry(request, parent);
    if (source) return source;
  }
  return resolveFilename.call(this, request, parent, ...rest);
};
