// Browser bundles, each one self-contained minified ES module:
// - the widget (Lit, the SDK and the component), what specialists embed;
// - the SDK alone, for custom frontends. It is built with no Node built-ins
//   and no external imports, which proves the SDK needs nothing but fetch.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import esbuild from 'rollup-plugin-esbuild';

const plugins = () => [
  // 'production' drops Lit's dev-mode warnings and code.
  nodeResolve({ browser: true, exportConditions: ['production'] }),
  esbuild({ target: 'es2022', tsconfig: 'tsconfig.json' }),
  terser({ ecma: 2022, module: true, compress: { passes: 2 }, format: { comments: false } }),
];

const failOnWarning = (warning) => {
  throw new Error(`rollup: ${warning.message}`);
};

export default [
  {
    input: 'widget/index.ts',
    output: { file: 'dist/browser/specialist-booking.js', format: 'es', sourcemap: true },
    plugins: plugins(),
    onwarn: failOnWarning,
  },
  {
    input: 'sdk/index.ts',
    output: { file: 'dist/browser/specialist-booking-sdk.js', format: 'es', sourcemap: true },
    plugins: plugins(),
    onwarn: failOnWarning,
  },
];
