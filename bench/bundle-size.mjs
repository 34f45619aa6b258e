// Measures the widget bundle against its budget: the whole widget, Lit and
// the SDK included, at most 20 KB gzip (aim: 15 KB). Prints one JSON line.
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export const BUDGET_GZIP_BYTES = 20 * 1024;
export const TARGET_GZIP_BYTES = 15 * 1024;

export function measureBundle(path = 'dist/browser/specialist-booking.js') {
  const source = readFileSync(path);
  return {
    file: path,
    rawBytes: source.length,
    gzipBytes: gzipSync(source, { level: 9 }).length,
    brotliBytes: brotliCompressSync(source, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    budgetGzipBytes: BUDGET_GZIP_BYTES,
    targetGzipBytes: TARGET_GZIP_BYTES,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = measureBundle(process.argv[2]);
  console.log(JSON.stringify(result));
  if (result.gzipBytes > BUDGET_GZIP_BYTES) {
    console.error(`Over budget: ${result.gzipBytes} B gzip > ${BUDGET_GZIP_BYTES} B`);
    process.exit(1);
  }
}
