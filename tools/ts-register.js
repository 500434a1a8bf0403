'use strict';
// Lets Node require the workspace's TypeScript sources (apps' bins, tools): ts-node in transpile-only
// mode with the workspace's compiler options. Type checking is `npm run typecheck`'s job.
const path = require('node:path');
require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', 'tsconfig.base.json'),
  compilerOptions: { sourceMap: true },
});
// Data-parallel training workers (runtime/src/parallel/worker-entry.js) load the same loader from here.
process.env.MOBILENETS_TS_REGISTER = __filename;
