module.exports = require('../../tools/jest/preset')(__dirname, 'geo-app');
