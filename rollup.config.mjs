// Browser bundles. The SDK bundle proves the SDK needs nothing but `fetch`:
// it is built with no Node built-ins available and no external imports.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import esbuild from 'rollup-plugin-esbuild';

const plugins = () => [
  nodeResolve({ browser: true, exportConditions: ['production'] }),
  esbuild({ target: 'es2022', tsconfig: 'tsconfig.json' }),
  terser({ ecma: 2022, module: true, compress: { passes: 2 } }),
];

export default [
  {
    input: 'sdk/index.ts',
    output: { file: 'dist/browser/specialist-booking-sdk.js', format: 'es', sourcemap: true },
    plugins: plugins(),
    onwarn(warning) {
      throw new Error(`rollup: ${warning.message}`);
    },
  },
];
