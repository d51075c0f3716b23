// Prints the plain closing line CI reads: `N passed, N failed` (from jest's --json output).
// Runs under any Node (CI may call it with the machine's own Node).
const fs = require('node:fs');
const [file, status] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
if (fs.existsSync(file)) {
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  skipped = r.numPendingTests + (r.numTodoTests || 0);
  // A suite that fails to load has no failed tests of its own: count it, or CI would see none failed.
  failed += r.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length;
} else if (status !== '0') {
  console.log('jest did not run: an earlier step of `pnpm test` (node check, lint or typecheck) failed');
  failed = 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
