'use strict';
// Lets Node run the workspace's TypeScript sources (apps' bins, tools, data-parallel workers) with no
// build step:
// - ts-node in transpile-only mode with the workspace's compiler options (type checking is
//   `npm run typecheck`'s job), its output cached on disk (below);
// - `@mobilenets/*` resolves to each package's sources: the "@mobilenets/source" condition of its
//   exports map, the same condition TypeScript (customConditions) and Jest (customExportConditions)
//   use. Node has no way to add an export condition once it runs, so this hooks require's resolution.
//   Outside the workspace, packages resolve to their built dist/ as usual.
// - MOBILENETS_TS_REGISTER names this file, so that worker threads started from this process can load
//   it too (see packages/runtime/src/start-entry.js).
//
// The cache: transpiling the ~200 modules an app imports took 4–8 s of every start (TypeScript itself,
// measured with --cpu-prof), before the app did anything. Each module's JavaScript (with its inline
// source map) is kept in node_modules/.cache/mobilenets-ts/, under a hash of the file's path and text
// and of everything else the output depends on (this file, tsconfig.base.json, the TypeScript and
// ts-node versions): a changed source is a new entry, never a stale one. ts-node (and TypeScript) load
// only when a module is not in the cache. Entries are written atomically (a temporary file renamed), so
// processes starting side by side share the folder safely; where it cannot be written, modules are
// transpiled as before. Delete the folder to empty it; MOBILENETS_TS_CACHE names another folder.
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const SOURCE_CONDITION = '@mobilenets/source';
const SCOPE = '@mobilenets/';
const ROOT = path.join(__dirname, '..');
const TSCONFIG = path.join(ROOT, 'tsconfig.base.json');
const CACHE_DIR = process.env.MOBILENETS_TS_CACHE || path.join(ROOT, 'node_modules', '.cache', 'mobilenets-ts');

process.env.MOBILENETS_TS_REGISTER = __filename;
// Stack traces point into the TypeScript sources (the cached JavaScript carries ts-node's inline source maps).
process.setSourceMapsEnabled(true);

/** What every cached output depends on besides its own file: this loader, the compiler options and the tools' versions. */
const SALT = crypto
  .createHash('sha256')
  .update(fs.readFileSync(__filename))
  .update(fs.readFileSync(TSCONFIG))
  .update(require('typescript/package.json').version)
  .update(require('ts-node/package.json').version)
  .digest('hex');

/** ts-node's .ts loader, registered on the first module the cache does not hold. */
let transpilingLoader = null;
function tsNodeLoader() {
  if (transpilingLoader === null) {
    // ts-node's loader hands the file to the loader it replaces: that must be Node's plain one, not this cache.
    delete Module._extensions['.ts'];
    require('ts-node').register({ transpileOnly: true, project: TSCONFIG, compilerOptions: { sourceMap: true } });
    transpilingLoader = Module._extensions['.ts'];
    Module._extensions['.ts'] = cachedLoader;
  }
  return transpilingLoader;
}

function cacheFile(filename, source) {
  const key = crypto.createHash('sha256').update(SALT).update('\0').update(filename).update('\0').update(source).digest('hex');
  return path.join(CACHE_DIR, `${path.basename(filename, '.ts')}-${key.slice(0, 32)}.js`);
}

function writeCache(file, code) {
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const temporary = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(temporary, code);
    fs.renameSync(temporary, file);
  } catch {
    // A read-only install or a full disk: the module still runs, transpiled each time.
  }
}

function cachedLoader(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const file = cacheFile(filename, source);
  let code;
  try {
    code = fs.readFileSync(file, 'utf8');
  } catch {
    code = null;
  }
  if (code !== null) return module._compile(code, filename);
  // ts-node transpiles and hands the JavaScript to module._compile: keep a copy on the way.
  const compile = module._compile;
  module._compile = function compileAndCache(transpiled, name) {
    module._compile = compile;
    writeCache(file, transpiled);
    return compile.call(this, transpiled, name);
  };
  return tsNodeLoader()(module, filename);
}
Module._extensions['.ts'] = cachedLoader;

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
