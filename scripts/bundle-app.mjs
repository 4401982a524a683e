// Bundles one app into a single ESM file for its container image: dist/apps/<app>/main.js.
import { writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const app = process.argv[2];
if (!app) {
  console.error('usage: node scripts/bundle-app.mjs <webhook|controller>');
  process.exit(2);
}
await build({
  entryPoints: [`apps/${app}/src/main.ts`],
  outfile: `dist/apps/${app}/main.js`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: true,
  // Smaller code is less memory: the bundle source and its compiled functions live in the heap.
  minify: true,
  keepNames: true,
  tsconfig: `apps/${app}/tsconfig.json`,
  // CommonJS dependencies (express, winston) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __kaosCreateRequire } from 'node:module'; const require = __kaosCreateRequire(import.meta.url);" },
  logLevel: 'info',
});
// The bundle directory is what the container image ships: mark it ESM so `node main.js` runs
// there without the repository's package.json or any node_modules.
writeFileSync(`dist/apps/${app}/package.json`, `${JSON.stringify({ name: `kaos-routing-${app}`, private: true, type: 'module' }, null, 2)}\n`);
