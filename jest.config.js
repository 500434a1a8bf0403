'use strict';
// `npm test` runs every project's tests in one Jest process; `nx test <project>` runs one.
module.exports = {
  projects: ['<rootDir>/packages/*/jest.config.js', '<rootDir>/apps/*/jest.config.js', '<rootDir>/test/jest.config.js'],
  testTimeout: 120000,
};
