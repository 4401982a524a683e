// Bundles one app into a single ESM file for its container image: dist/apps/<app>/main.js (and one
// file per worker thread entry).
import { writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { imageBundleOptions } from './bundle-options.mjs';

const [app, outdirFlag, outdirArgument] = process.argv.slice(2);
if (!app || (outdirFlag !== undefined && (outdirFlag !== '--outdir' || !outdirArgument))) {
  console.error('usage: node scripts/bundle-app.mjs <webhook|controller> [--outdir DIR]');
  process.exit(2);
}
// Tests bundle into a directory of their own (review-offload.test.ts runs the real worker bundle).
const outdir = outdirArgument ?? `dist/apps/${app}`;
// Worker threads are entry points of their own, next to main.js (the webhook's review worker, ADR 0010).
const workerEntries = { webhook: ['review-worker'] }[app] ?? [];
await build({
  ...imageBundleOptions(app),
  entryPoints: Object.fromEntries(['main', ...workerEntries].map((name) => [name, `apps/${app}/src/${name}.ts`])),
  outdir,
  sourcemap: true,
  logLevel: 'info',
});
// The bundle directory is what the container image ships: mark it ESM so `node main.js` runs
// there without the repository's package.json or any node_modules.
writeFileSync(`${outdir}/package.json`, `${JSON.stringify({ name: `kaos-routing-${app}`, private: true, type: 'module' }, null, 2)}\n`);
