module.exports = require('../tools/jest/preset')(__dirname, 'e2e');
