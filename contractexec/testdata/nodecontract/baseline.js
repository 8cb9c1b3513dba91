// Benchmark baseline: node reading its stdin, without the contract library or the ABI.
require('fs').readFileSync(0);
