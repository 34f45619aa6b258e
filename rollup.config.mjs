// Browser bundles, each one self-contained minified ES module:
// - the widget (Lit, the SDK and the component), what specialists embed;
// - the SDK alone, for custom frontends. It is built with no Node built-ins
//   and no external imports, which proves the SDK needs nothing but fetch.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import esbuild from 'rollup-plugin-esbuild';

/**
 * Writes each bundle Brotli- and gzip-compressed beside it, at their best
 * quality, whenever rollup writes the bundle: the server sends these
 * (serveStatic's `precompressed`) instead of compressing the widget again
 * for every page that embeds it.
 */
const precompress = () => ({
  name: 'precompress',
  writeBundle(options, bundle) {
    for (const chunk of Object.values(bundle)) {
      if (chunk.type !== 'chunk') continue;
      // The file as written, with its source map comment.
      const file = join(options.dir ?? join(options.file, '..'), chunk.fileName);
      const code = readFileSync(file);
      writeFileSync(`${file}.br`, brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      writeFileSync(`${file}.gz`, gzipSync(code, { level: 9 }));
    }
  },
});

/**
 * Chromium's explicit compile hint (a magic comment on the file's first
 * line): compile every function while the script streams in, on a
 * background thread, rather than each on the main thread when first called.
 * The widget calls nearly all of its code while the page loads. Other
 * browsers read a comment.
 */
const COMPILE_EVERYTHING_ON_LOAD = '//# allFunctionsCalledOnLoad';

const plugins = ({ preamble } = {}) => [
  // 'production' drops Lit's dev-mode warnings and code.
  nodeResolve({ browser: true, exportConditions: ['production'] }),
  esbuild({ target: 'es2022', tsconfig: 'tsconfig.json' }),
  terser({ ecma: 2022, module: true, compress: { passes: 2 }, format: { comments: false, ...(preamble && { preamble }) } }),
  precompress(),
];

const failOnWarning = (warning) => {
  throw new Error(`rollup: ${warning.message}`);
};

export default [
  {
    input: 'widget/index.ts',
    output: { file: 'dist/browser/specialist-booking.js', format: 'es', sourcemap: true },
    plugins: plugins({ preamble: COMPILE_EVERYTHING_ON_LOAD }),
    onwarn: failOnWarning,
  },
  {
    input: 'sdk/index.ts',
    output: { file: 'dist/browser/specialist-booking-sdk.js', format: 'es', sourcemap: true },
    plugins: plugins(),
    onwarn: failOnWarning,
  },
];
