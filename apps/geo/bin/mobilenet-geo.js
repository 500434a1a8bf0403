#!/usr/bin/env node
'use strict';
require('../../../tools/run-cli')(require.resolve('../src/main.ts'));
