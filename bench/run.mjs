// `npm run bench`: builds, then runs each benchmark and prints its figures.
import { execFileSync } from 'node:child_process';
import { measureBundle } from './bundle-size.mjs';

execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
const bundle = measureBundle();
const kb = (b) => (b / 1024).toFixed(1);
console.log(`Widget bundle: ${kb(bundle.gzipBytes)} KB gzip, ${kb(bundle.brotliBytes)} KB brotli, ${kb(bundle.rawBytes)} KB raw (budget ${kb(bundle.budgetGzipBytes)} KB gzip, aim ${kb(bundle.targetGzipBytes)} KB) — ${(100 * bundle.gzipBytes / bundle.budgetGzipBytes).toFixed(0)}% of budget`);
if (bundle.gzipBytes > bundle.budgetGzipBytes) process.exitCode = 1;
