// `npm run build`: JavaScript and type declarations for the package exports
// (tsc), the browser bundles (rollup), and the custom elements manifest.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const bin = (name) => `node_modules/.bin/${name}`;
rmSync('dist', { recursive: true, force: true });
execFileSync(bin('tsc'), ['-p', 'tsconfig.build.json'], { stdio: 'inherit' });
execFileSync(bin('rollup'), ['-c', 'rollup.config.mjs', '--silent'], { stdio: 'inherit' });
execFileSync(bin('cem'), ['analyze', '--globs', 'widget/specialist-booking.ts', 'widget/index.ts', '--litelement', '--quiet'], { stdio: 'inherit' });
