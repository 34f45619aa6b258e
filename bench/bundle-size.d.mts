export declare const BUDGET_GZIP_BYTES: number;
export declare const TARGET_GZIP_BYTES: number;
export declare function measureBundle(path?: string): {
  file: string;
  rawBytes: number;
  gzipBytes: number;
  brotliBytes: number;
  budgetGzipBytes: number;
  targetGzipBytes: number;
};
