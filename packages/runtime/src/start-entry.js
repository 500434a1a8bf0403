'use strict';
// What the package's plain-JavaScript entry points share (Node starts worker threads and child
// processes in plain JavaScript): run the compiled module beside the entry point when the package is
// built; in the workspace, running from the TypeScript sources, load the TypeScript loader that the
// starting process names in MOBILENETS_TS_REGISTER (tools/ts-register.js sets it when it is loaded, and
// so does the Jest environment), then the module's source.
const fs = require('node:fs');
const path = require('node:path');

/**
 * Runs `<dir>/<name>.js`, or `<dir>/<name>.ts` through the loader in MOBILENETS_TS_REGISTER.
 * `what` names the entry point in the error ("the training worker"); `starter` says which process
 * should load tools/ts-register.js.
 */
function startCompiledOrSource(dir, name, what, starter) {
  const compiled = path.join(dir, `${name}.js`);
  const tsRegister = process.env.MOBILENETS_TS_REGISTER;
  if (fs.existsSync(compiled)) {
    require(compiled);
  } else if (tsRegister) {
    require(tsRegister);
    require(path.join(dir, `${name}.ts`));
  } else {
    throw new Error(
      `@mobilenets/runtime: ${what} cannot start: ${compiled} does not exist (build the package with ` +
        `'npx nx build runtime'), and MOBILENETS_TS_REGISTER names no TypeScript loader to run ` +
        `${path.join(dir, `${name}.ts`)} from source (require tools/ts-register.js in ${starter}).`,
    );
  }
}

module.exports = { startCompiledOrSource };
