'use strict';
// Shared Jest settings for every project of the workspace.
const path = require('node:path');

/** @param {string} projectDir @param {string} displayName */
module.exports = function jestProject(projectDir, displayName) {
  return {
    displayName,
    rootDir: projectDir,
    testEnvironment: path.join(__dirname, 'host-typed-arrays-environment.js'),
    // `@mobilenets/*` resolves to the sources (the "@mobilenets/source" condition of each exports map), not dist/.
    testEnvironmentOptions: { customExportConditions: ['@mobilenets/source', 'node', 'node-addons'] },
    testMatch: ['<rootDir>/**/*.test.ts'],
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    transform: {
      '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, '..', '..', 'tsconfig.base.json'), diagnostics: false }],
    },
    moduleFileExtensions: ['ts', 'js', 'json'],
  };
};
